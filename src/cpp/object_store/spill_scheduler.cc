#include "object_store/spill_scheduler.h"

#include <unistd.h>

#include <algorithm>

#include "common/logging.h"
#include "object_store/spill_file.h"

namespace lumos::object_store {

SpillIoPool::SpillIoPool(int threads) {
  for (int i = 0; i < threads; i++) threads_.emplace_back([this] { Run(); });
}

void SpillIoPool::Submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void SpillIoPool::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    jobs_.clear();
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void SpillIoPool::Run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

SpillScheduler::SpillScheduler(asio::io_context& io, ObjectTable& table, const SpillOptions& options,
                               std::function<void()> on_change)
    : io_(io),
      table_(table),
      options_(options),
      on_change_(std::move(on_change)),
      pool_(options.enabled ? std::max(1, options.io_threads) : 0) {}

std::string SpillScheduler::FilePath(const ObjectID& id, const char* suffix) const {
  return options_.directory + "/lumos-" + std::to_string(::getpid()) + "-" + id.Hex() + suffix;
}

void SpillScheduler::Stop() { alive_->store(false); }

void SpillScheduler::Join() {
  pool_.Shutdown();
  for (const std::string& path : paths_in_flight_) RemoveFile(path);
  paths_in_flight_.clear();
}

void SpillScheduler::Submit(std::function<void()> job, std::function<void()> then) {
  auto alive = alive_;
  asio::io_context* io = &io_;
  pool_.Submit([job = std::move(job), then = std::move(then), alive, io, hook = options_.before_io]() mutable {
    if (hook) hook();
    job();
    asio::post(*io, [then = std::move(then), alive] {
      if (alive->load()) then();
    });
  });
}

bool SpillScheduler::Fits(uint64_t size) const {
  return table_.allocator().largest_free_block() >= std::max<uint64_t>(size, 1);
}

bool SpillScheduler::FreeOne(bool allow_io, std::string* why) {
  auto victim = table_.NextVictim();
  if (!victim) return false;
  if (!victim->primary) {
    if (!table_.Evict(victim->id).ok()) return false;
    num_evicted_total_++;
    return true;
  }
  const ObjectEntry* e = table_.Find(victim->id);
  if (e && !e->file_path.empty()) {
    // Its spill file is still there and still right: dropping the memory is enough.
    return table_.MarkSpilled(victim->id, e->file_path, e->file_offset, e->spill_crc).ok();
  }
  if (!allow_io) return false;
  if (!options_.enabled) {
    *why = "object spilling is disabled";
    return false;
  }
  StartSpill(victim->id);
  return true;
}

void SpillScheduler::RequestRoom(uint64_t size, Done done) {
  if (Fits(size)) return done(Status::OK());
  const uint64_t stuck = table_.used() - table_.evictable_bytes() - table_.spilling_bytes();
  if (stuck + size > table_.capacity()) {
    // Freeing everything that can be freed would still leave too little: touch nothing.
    return done(Status::OutOfMemory(
        "the object store (capacity " + std::to_string(table_.capacity()) + " bytes, " +
        std::to_string(stuck) + " bytes pinned or being written) cannot hold " + std::to_string(size) +
        " bytes even after freeing every unpinned object"));
  }
  std::string why;
  while (FreeOne(false, &why)) {
    if (Fits(size)) return done(Status::OK());
  }
  waiters_.push_back({size, std::move(done)});
  PumpWaiters();
}

void SpillScheduler::PumpWaiters() {
  if (pumping_) return;  // a grant re-entered us: the running pump goes on
  pumping_ = true;
  while (!waiters_.empty()) {
    const uint64_t size = waiters_.front().size;
    std::string why;
    bool wait = false;
    while (!Fits(size)) {
      const uint64_t free = table_.capacity() - table_.used();
      // Enough is being written already (fragmentation shows after it lands).
      if (writes_in_flight_ > 0 && free + table_.spilling_bytes() >= size) {
        wait = true;
        break;
      }
      if (!FreeOne(true, &why)) {
        wait = writes_in_flight_ > 0;
        if (!wait && why.empty()) {
          why = "it has no free block of " + std::to_string(size) + " bytes and nothing left to spill";
        }
        break;
      }
    }
    if (wait) break;
    Waiter w = std::move(waiters_.front());
    waiters_.pop_front();
    if (Fits(size)) {
      w.done(Status::OK());
    } else {
      w.done(Status::OutOfMemory("the object store (capacity " + std::to_string(table_.capacity()) +
                                 " bytes, " + std::to_string(table_.used()) + " used) cannot hold " +
                                 std::to_string(size) + " more bytes: " + why));
    }
  }
  pumping_ = false;
}

void SpillScheduler::FailWaiters(const Status& st) {
  std::deque<Waiter> failed;
  failed.swap(waiters_);
  for (Waiter& w : failed) w.done(st);
}

void SpillScheduler::StartSpill(const ObjectID& id) {
  auto begin = [&](const ObjectID& victim, std::vector<SpillItem>* items) {
    Result<ObjectEntry> begun = table_.BeginSpill(victim);
    if (!begun.ok()) {
      LUMOS_LOG(Error) << "cannot spill: " << begun.status().ToString();
      return false;
    }
    SpillItem item;
    item.id = victim;
    item.bytes = arena_ + begun.value().offset;  // stays allocated until FinishSpill
    item.data_size = begun.value().data_size;
    item.metadata_size = begun.value().metadata_size;
    items->push_back(item);
    return true;
  };
  std::vector<SpillItem> items;
  if (!begin(id, &items)) return;
  const uint64_t small = options_.batch_object_max_bytes;
  uint64_t bytes = items[0].data_size + items[0].metadata_size;
  if (bytes < small) {
    // The next small LRU victims share the file: one open, one fsync, one unlink.
    for (;;) {
      auto next = table_.NextVictim();
      if (!next || !next->primary || next->size >= small || items.size() >= options_.batch_max_objects ||
          bytes + next->size > options_.batch_max_bytes) {
        break;
      }
      const ObjectEntry* e = table_.Find(next->id);
      if (!e || !e->file_path.empty() || !begin(next->id, &items)) break;
      bytes += next->size;
    }
  }
  const std::string path =
      items.size() == 1 ? FilePath(id, ".spill")
                        : FilePath(id, ("-batch" + std::to_string(++batch_files_) + ".spill").c_str());
  writes_in_flight_++;
  paths_in_flight_.insert(path);
  const bool sync = options_.fsync;
  auto shared = std::make_shared<std::vector<SpillItem>>(std::move(items));
  auto result = std::make_shared<Status>();
  Submit([=] { *result = WriteSpillBatch(path, shared.get(), sync); },
         [=] { OnSpillDone(*shared, path, *result); });
}

void SpillScheduler::OnSpillDone(const std::vector<SpillItem>& items, const std::string& path,
                                 const Status& st) {
  writes_in_flight_--;
  paths_in_flight_.erase(path);
  for (const SpillItem& item : items) {
    Status finished = table_.FinishSpill(item.id, st.ok(), path, item.file_offset, item.crc);
    if (!finished.ok()) LUMOS_LOG(Error) << "spill bookkeeping: " << finished.ToString();
    if (st.ok()) bytes_spilled_total_ += item.data_size + item.metadata_size;
  }
  if (st.ok()) {
    num_spill_files_total_++;
    if (options_.fsync) num_spill_fsyncs_total_++;
  } else {
    // No retry loop: a failing disk fails the requests waiting for it, with the cause.
    LUMOS_LOG(Warning) << "spilling failed: " << st.ToString();
    FailWaiters(Status::OutOfMemory("the object store (capacity " + std::to_string(table_.capacity()) +
                                    " bytes) is full and spilling failed: " + st.message()));
  }
  on_change_();
  Pump();
}

void SpillScheduler::Load(const ObjectID& id, Done done) {
  std::vector<Done>& pending = reads_[id];
  pending.push_back(std::move(done));
  if (pending.size() > 1) return;  // the first Load's I/O serves this one too
  const ObjectEntry* e = table_.Find(id);
  if (!e || e->state != ObjectState::kSpilled) {
    return FinishLoad(id, e ? Status::OK() : Status::NotFound("object " + id.Hex() + " is gone"));
  }
  // All pins of an id share one location: one served from its file stays there.
  if (e->total_pins > 0) return StartRead(id, false);
  RequestRoom(e->size(), [this, id](Status room) {
    const ObjectEntry* e = table_.Find(id);
    if (!e || e->state != ObjectState::kSpilled) {
      return FinishLoad(id, e ? Status::OK() : Status::NotFound("object " + id.Hex() + " is gone"));
    }
    StartRead(id, room.ok() && e->total_pins == 0);
  });
}

void SpillScheduler::StartRead(const ObjectID& id, bool restore) {
  uint8_t* dest = nullptr;
  if (restore) {
    Result<uint64_t> offset = table_.BeginRestore(id);
    if (offset.ok()) dest = arena_ + offset.value();
  }
  const ObjectEntry* e = table_.Find(id);
  const std::string path = e->file_path;
  const uint64_t data_size = e->data_size, metadata_size = e->metadata_size;
  const uint64_t file_offset = e->file_offset;
  const uint32_t crc = e->spill_crc;
  auto result = std::make_shared<Status>();
  Submit([=] { *result = ReadSpillFile(path, file_offset, id, dest, data_size, metadata_size, crc); },
         [=] {
           Status st = *result;
           if (dest) {
             Status finished = table_.FinishRestore(id, st.ok());
             if (!finished.ok()) LUMOS_LOG(Error) << "restore bookkeeping: " << finished.ToString();
             if (st.ok()) bytes_restored_total_ += data_size + metadata_size;
           }
           if (!st.ok()) LUMOS_LOG(Error) << "reading a spilled object failed: " << st.ToString();
           FinishLoad(id, st);
           on_change_();
           Pump();  // a failed restore gave its block back
         });
}

void SpillScheduler::FinishLoad(const ObjectID& id, const Status& st) {
  auto it = reads_.find(id);
  if (it == reads_.end()) return;
  std::vector<Done> done = std::move(it->second);
  reads_.erase(it);
  for (Done& d : done) d(st);
}

}  // namespace lumos::object_store
