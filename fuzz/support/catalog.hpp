#pragma once

// The catalog the statements and plans of the fuzz targets resolve against.

#include "optischema/analysis/catalog.hpp"

namespace optischema::fuzz {

/// A clinic, a shop, documents with jsonb and arrays, a partitioned table and
/// views: the schemas of tests/data/candidates and tests/data/findings, so
/// the seeds reach every resolution path of statement analysis.
const catalog& sample_catalog();

} // namespace optischema::fuzz
