#include "optischema/analysis/plan.hpp"
