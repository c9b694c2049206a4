// std::mutex (Mutex) and std::shared_mutex (SharedMutex) with clang
// thread-safety annotations: the project's annotated locks (every lock of
// ours is one of these). Not absl::Mutex: Debian's
// prebuilt absl is not built with ThreadSanitizer, so TSan cannot see its
// synchronisation and reports false races; it does see pthread mutexes.
#pragma once

#include <absl/base/thread_annotations.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

namespace etcd {

class ABSL_LOCKABLE Mutex {
 public:
  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  bool try_lock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) { return mu_.try_lock(); }

 private:
  friend class MutexLock;
  std::mutex mu_;
};

// Holds a Mutex for its scope; waits on condition variables with it.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : lock_(mu->mu_) {}
  ~MutexLock() ABSL_UNLOCK_FUNCTION() {}
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  template <typename Pred>
  void wait(std::condition_variable& cv, Pred pred) {
    cv.wait(lock_, pred);
  }
  template <typename Rep, typename Period, typename Pred>
  bool wait_for(std::condition_variable& cv, std::chrono::duration<Rep, Period> d, Pred pred) {
    return cv.wait_for(lock_, d, pred);
  }
  template <typename Clock, typename Duration, typename Pred>
  bool wait_until(std::condition_variable& cv, std::chrono::time_point<Clock, Duration> t,
                  Pred pred) {
    return cv.wait_until(lock_, t, pred);
  }
  // Drops and retakes the lock inside the scope (around slow work).
  void unlock() ABSL_UNLOCK_FUNCTION() { lock_.unlock(); }
  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { lock_.lock(); }

 private:
  std::unique_lock<std::mutex> lock_;
};

// A reader/writer lock: shared for readers (ReaderLock), exclusive for
// writers (WriterLock).
class ABSL_LOCKABLE SharedMutex {
 public:
  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  void lock_shared() ABSL_SHARED_LOCK_FUNCTION() { mu_.lock_shared(); }
  void unlock_shared() ABSL_UNLOCK_FUNCTION() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

class ABSL_SCOPED_LOCKABLE WriterLock {
 public:
  explicit WriterLock(SharedMutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->lock(); }
  ~WriterLock() ABSL_UNLOCK_FUNCTION() { mu_->unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex* const mu_;
};

class ABSL_SCOPED_LOCKABLE ReaderLock {
 public:
  explicit ReaderLock(SharedMutex* mu) ABSL_SHARED_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->lock_shared();
  }
  ~ReaderLock() ABSL_UNLOCK_FUNCTION() {
    if (held_) mu_->unlock_shared();
  }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;
  // Releases the lock before the end of the scope.
  void unlock() ABSL_UNLOCK_FUNCTION() {
    mu_->unlock_shared();
    held_ = false;
  }

 private:
  SharedMutex* const mu_;
  bool held_ = true;
};

}  // namespace etcd
