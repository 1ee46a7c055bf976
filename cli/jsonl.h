#pragma once
// cli/jsonl.h: the JSON Lines input format of `syncline append`, one change per line. The format,
// its rules and its parser live in gateway/json_records.h (one home: the gateway's HTTP listener
// takes the same objects); these names keep the CLI's spelling.
#include "gateway/json_records.h"

namespace syncline::cli {

using jsonl_limits = gateway::json_limits;
using gateway::is_blank_line;
using gateway::parse_jsonl_line;

}  // namespace syncline::cli
