#pragma once
// make bench's last step: issue 21's goal table read off the JSON the benchmarks wrote in the same
// run (live.json, outbox.json, replay.json). Pure: JSON in, rows out; main.cpp reads the files,
// prints the table, writes summary.json and appends the run to history.jsonl.

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <vector>

namespace weighlink::bench::summary {

// What a row's goal compares: the ratio to its same-run baseline, or the value itself.
struct Goal {
  enum class Compare { at_least, at_most };
  Compare compare = Compare::at_least;
  double target = 0;
  bool on_ratio = true;  // false: the value (µs, s, MB) is held against the target
};

struct Row {
  std::string measure;
  std::string unit;
  std::optional<double> value;  // weighlink's figure
  std::string baseline_name;    // empty when the goal has no baseline
  std::optional<double> baseline;
  std::optional<double> ratio;  // value / baseline (for "lower is better" units as well)
  Goal goal;
  std::optional<bool> met;  // nullopt: not measured in this run
  std::string note;         // what else the row needs said (errors, memory, which run)
};

struct Inputs {
  std::optional<boost::json::object> live;
  std::optional<boost::json::object> outbox;
  std::optional<boost::json::object> replay;
};

// The rows, in its order. A bench that did not run (or wrote no such key) gives rows with
// no value and met unset, never a guess.
std::vector<Row> summarize(const Inputs& in);

// "≥ 1.5 ×", "≤ 20 µs".
std::string goal_text(const Row& row);

// The table as make bench prints it.
std::string format_table(const std::vector<Row>& rows);

boost::json::array to_json(const std::vector<Row>& rows);

}  // namespace weighlink::bench::summary
