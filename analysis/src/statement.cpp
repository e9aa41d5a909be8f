#include "optischema/analysis/statement.hpp"
