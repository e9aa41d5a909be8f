#include "optischema/analysis/candidates.hpp"
