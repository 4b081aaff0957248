#pragma once
// Internal: ScaleReader's io-thread path (reader_io.cpp), for sources reads_on_io_thread() names.

#include <memory>

#include "weighlink/scale/reader.hpp"

namespace weighlink::scale::detail {

struct ReaderCounters;
class IoReaderLoop;

// Starts reading `config.source` on `io`'s thread (the first open is posted to it).
[[nodiscard]] std::shared_ptr<IoReaderLoop> start_io_reader(
    boost::asio::io_context& io, const ScaleConfig& config, const ScaleEvents& events,
    std::shared_ptr<ReaderCounters> counters);
// Closes the source and cancels its waits; no callback runs once this returns. Called on `io`'s
// thread or once `io` is stopped, it acts at once; from another thread it waits for `io`'s
// thread to do it (so `io` must be running, or be stopped meanwhile).
void stop_io_reader(boost::asio::io_context& io, const std::shared_ptr<IoReaderLoop>& loop);

}  // namespace weighlink::scale::detail
