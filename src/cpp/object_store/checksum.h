#pragma once
// Crc32c: the CRC-32C (Castagnoli) checksum of spilled object bytes.
//
// Uses the CPU's crc32 instruction (SSE4.2) when present, checked once at run
// time, else a byte-at-a-time table (slower, same values). Incremental:
// Crc32c(b, n2, Crc32c(a, n1)) == Crc32c(a ++ b, n1 + n2).
// Thread safety: pure functions.
#include <cstddef>
#include <cstdint>

namespace lumos::object_store {

/// \brief CRC-32C of [data, data + size), continuing from `crc` (0 to start).
uint32_t Crc32c(const void* data, size_t size, uint32_t crc = 0);
/// \brief The portable implementation (exposed so tests can compare both paths).
uint32_t Crc32cPortable(const void* data, size_t size, uint32_t crc = 0);

}  // namespace lumos::object_store
