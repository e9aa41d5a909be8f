#include "optischema/analysis/findings.hpp"
