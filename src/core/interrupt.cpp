#include "linflow/interrupt.hpp"

#include <atomic>

namespace linflow {
namespace {

// Lock-free, hence usable from a signal handler (a lock-based atomic could deadlock there).
std::atomic<bool> g_interrupt{false};
static_assert(std::atomic<bool>::is_always_lock_free);

}  // namespace

void request_interrupt() noexcept { g_interrupt.store(true, std::memory_order_relaxed); }

bool interrupt_requested() noexcept { return g_interrupt.load(std::memory_order_relaxed); }

void clear_interrupt() noexcept { g_interrupt.store(false, std::memory_order_relaxed); }

}  // namespace linflow
