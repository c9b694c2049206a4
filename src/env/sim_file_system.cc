#include "env/sim_file_system.h"

#include <algorithm>
#include <cstring>
#include <set>

namespace etcd::env {

namespace {

Status stale(const std::string& path) {
  return failed_precondition(path + ": file handle from before a simulated crash");
}

void apply_write(std::string& content, uint64_t offset, std::string_view data) {
  if (content.size() < offset + data.size()) content.resize(offset + data.size(), '\0');
  std::memcpy(content.data() + offset, data.data(), data.size());
}

}  // namespace

class SimFile final : public File {
 public:
  SimFile(SimFileSystem* fs, uint64_t ino, std::string path, uint64_t generation)
      : fs_(fs), ino_(ino), path_(std::move(path)), generation_(generation) {}

  const std::string& path() const override { return path_; }

  Result<size_t> read_at(uint64_t offset, char* buf, size_t n) override {
    SimFileSystem::Inode* node = live();
    if (node == nullptr) return stale(path_);
    if (offset >= node->data.size()) return size_t{0};
    size_t len = std::min<uint64_t>(n, node->data.size() - offset);
    std::memcpy(buf, node->data.data() + offset, len);
    return len;
  }
  Status write_at(uint64_t offset, std::string_view data) override {
    if (live() == nullptr) return stale(path_);
    return fs_->file_write(ino_, offset, data);
  }
  Status append(std::string_view data) override {
    SimFileSystem::Inode* node = live();
    if (node == nullptr) return stale(path_);
    return fs_->file_write(ino_, node->data.size(), data);
  }
  Status sync() override {
    if (live() == nullptr) return stale(path_);
    return fs_->file_sync(ino_, path_);
  }
  Status truncate(uint64_t size) override {
    if (live() == nullptr) return stale(path_);
    return fs_->file_resize(ino_, size, /*grow_only=*/false);
  }
  Status allocate(uint64_t size) override {
    if (live() == nullptr) return stale(path_);
    return fs_->file_resize(ino_, size, /*grow_only=*/true);
  }
  Result<uint64_t> size() override {
    SimFileSystem::Inode* node = live();
    if (node == nullptr) return stale(path_);
    return static_cast<uint64_t>(node->data.size());
  }

 private:
  SimFileSystem::Inode* live() {
    if (generation_ != fs_->generation_) return nullptr;
    return fs_->inode(ino_);
  }

  SimFileSystem* const fs_;
  const uint64_t ino_;
  const std::string path_;
  const uint64_t generation_;
};

SimFileSystem::SimFileSystem() {
  Inode root;
  root.is_dir = true;
  root.mode = 0755;
  state_.inodes.emplace(kRootIno, std::move(root));
}

SimFileSystem::~SimFileSystem() = default;

void SimFileSystem::before_mutation() {
  ++ops_;
  if (ops_until_freeze_ > 0 && --ops_until_freeze_ == 0) frozen_ = state_;
}

void SimFileSystem::before_sync() {
  if (syncs_until_freeze_ == 0 || --syncs_until_freeze_ > 0) return;
  if (!frozen_.has_value()) frozen_ = state_;
}

void SimFileSystem::crash_after_ops(uint64_t n) {
  ASSERT(n >= 1, "the crash point is at least one call ahead");
  ASSERT(!frozen_.has_value(), "a crash point was already passed");
  ops_until_freeze_ = n;
}

Result<std::vector<std::string>> SimFileSystem::split(const std::string& path) const {
  if (path.empty() || path[0] != '/') return invalid_argument("sim fs: path not absolute: " + path);
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string part = path.substr(i, j - i);
    if (part == "..") return invalid_argument("sim fs: '..' not supported: " + path);
    if (!part.empty() && part != ".") parts.push_back(std::move(part));
    i = j + 1;
  }
  return parts;
}

SimFileSystem::Inode* SimFileSystem::inode(uint64_t ino) {
  auto it = state_.inodes.find(ino);
  return it == state_.inodes.end() ? nullptr : &it->second;
}

Result<uint64_t> SimFileSystem::lookup(const std::string& path) const {
  auto parts = split(path);
  if (!parts.is_ok()) return parts.status();
  uint64_t ino = kRootIno;
  for (const std::string& part : *parts) {
    const Inode& dir = state_.inodes.at(ino);
    if (!dir.is_dir) return failed_precondition(path + ": not a directory");
    auto it = dir.entries.find(part);
    if (it == dir.entries.end()) return not_found(path + ": no such file or directory");
    ino = it->second;
  }
  return ino;
}

Result<std::pair<uint64_t, std::string>> SimFileSystem::lookup_parent(
    const std::string& path) const {
  auto parts = split(path);
  if (!parts.is_ok()) return parts.status();
  if (parts->empty()) return invalid_argument("sim fs: the root has no parent");
  std::string name = parts->back();
  uint64_t ino = kRootIno;
  for (size_t i = 0; i + 1 < parts->size(); ++i) {
    const Inode& dir = state_.inodes.at(ino);
    auto it = dir.entries.find((*parts)[i]);
    if (it == dir.entries.end()) return not_found(path + ": no such file or directory");
    ino = it->second;
  }
  if (!state_.inodes.at(ino).is_dir) return failed_precondition(path + ": not a directory");
  return std::make_pair(ino, std::move(name));
}

Result<std::unique_ptr<File>> SimFileSystem::open(const std::string& path, OpenMode mode,
                                                  uint32_t perm) {
  auto parent = lookup_parent(path);
  if (!parent.is_ok()) return parent.status();
  auto [dir_ino, name] = std::move(*parent);
  Inode& dir = state_.inodes.at(dir_ino);
  auto it = dir.entries.find(name);
  uint64_t ino;
  if (it != dir.entries.end()) {
    ino = it->second;
    if (state_.inodes.at(ino).is_dir) return failed_precondition(path + ": is a directory");
    if (mode == OpenMode::kCreateNew) return Status(Code::kAlreadyExists, path + ": exists");
    if (mode == OpenMode::kCreateTruncate) RETURN_IF_ERROR(file_resize(ino, 0, false));
  } else {
    if (mode == OpenMode::kReadOnly || mode == OpenMode::kReadWrite) {
      return not_found(path + ": no such file or directory");
    }
    before_mutation();
    ino = state_.next_ino++;
    Inode node;
    node.mode = perm & 07777;
    state_.inodes.emplace(ino, std::move(node));
    dir.entries[name] = ino;  // std::map insertions keep references valid
    dir.dir_pending.push_back({DirOp::kLink, name, {}, ino});
  }
  return std::unique_ptr<File>(std::make_unique<SimFile>(this, ino, path, generation_));
}

Status SimFileSystem::file_write(uint64_t ino, uint64_t offset, std::string_view data) {
  before_mutation();
  Inode* node = inode(ino);
  apply_write(node->data, offset, data);
  node->pending.push_back({FileOp::kWrite, offset, std::string(data)});
  return Status::ok();
}

Status SimFileSystem::file_resize(uint64_t ino, uint64_t size, bool grow_only) {
  before_mutation();
  Inode* node = inode(ino);
  if (grow_only && node->data.size() >= size) return Status::ok();
  node->data.resize(size, '\0');
  node->pending.push_back({grow_only ? FileOp::kGrow : FileOp::kResize, size, {}});
  return Status::ok();
}

Status SimFileSystem::file_sync(uint64_t ino, const std::string& path) {
  before_sync();
  before_mutation();
  if (fail_sync_) return internal_error("fdatasync " + path + ": input/output error (injected)");
  if (lying_sync_) return Status::ok();
  Inode* node = inode(ino);
  node->durable = node->data;
  node->pending.clear();
  return Status::ok();
}

Status SimFileSystem::rename(const std::string& from, const std::string& to) {
  auto src = lookup_parent(from);
  if (!src.is_ok()) return src.status();
  auto dst = lookup_parent(to);
  if (!dst.is_ok()) return dst.status();
  Inode& src_dir = state_.inodes.at(src->first);
  auto it = src_dir.entries.find(src->second);
  if (it == src_dir.entries.end()) return not_found(from + ": no such file or directory");
  uint64_t ino = it->second;
  Inode& dst_dir = state_.inodes.at(dst->first);
  auto existing = dst_dir.entries.find(dst->second);
  if (existing != dst_dir.entries.end() && state_.inodes.at(existing->second).is_dir) {
    return failed_precondition(to + ": is a directory");
  }
  before_mutation();
  Inode& s = state_.inodes.at(src->first);
  Inode& d = state_.inodes.at(dst->first);
  s.entries.erase(src->second);
  d.entries[dst->second] = ino;
  if (src->first == dst->first) {
    s.dir_pending.push_back({DirOp::kRename, src->second, dst->second, ino});
  } else {
    // Across directories each side becomes durable with its own directory.
    s.dir_pending.push_back({DirOp::kUnlink, src->second, {}, ino});
    d.dir_pending.push_back({DirOp::kLink, dst->second, {}, ino});
  }
  return Status::ok();
}

Status SimFileSystem::remove(const std::string& path) {
  auto parent = lookup_parent(path);
  if (!parent.is_ok()) return parent.status();
  Inode& dir = state_.inodes.at(parent->first);
  auto it = dir.entries.find(parent->second);
  if (it == dir.entries.end()) return not_found(path + ": no such file or directory");
  if (state_.inodes.at(it->second).is_dir) return failed_precondition(path + ": is a directory");
  before_mutation();
  Inode& d = state_.inodes.at(parent->first);
  uint64_t ino = d.entries.at(parent->second);
  d.entries.erase(parent->second);
  d.dir_pending.push_back({DirOp::kUnlink, parent->second, {}, ino});
  return Status::ok();
}

Status SimFileSystem::mkdir(const std::string& path, uint32_t perm) {
  auto parent = lookup_parent(path);
  if (!parent.is_ok()) return parent.status();
  if (state_.inodes.at(parent->first).entries.count(parent->second) != 0) {
    return Status(Code::kAlreadyExists, path + ": exists");
  }
  before_mutation();
  uint64_t ino = state_.next_ino++;
  Inode node;
  node.is_dir = true;
  node.mode = perm & 07777;
  state_.inodes.emplace(ino, std::move(node));
  Inode& d = state_.inodes.at(parent->first);
  d.entries[parent->second] = ino;
  d.dir_pending.push_back({DirOp::kLink, parent->second, {}, ino});
  return Status::ok();
}

Status SimFileSystem::chmod(const std::string& path, uint32_t perm) {
  auto ino = lookup(path);
  if (!ino.is_ok()) return ino.status();
  before_mutation();
  inode(*ino)->mode = perm & 07777;
  return Status::ok();
}

Result<std::vector<std::string>> SimFileSystem::list_dir(const std::string& path) {
  auto ino = lookup(path);
  if (!ino.is_ok()) return ino.status();
  const Inode* dir = inode(*ino);
  if (!dir->is_dir) return failed_precondition(path + ": not a directory");
  std::vector<std::string> names;
  names.reserve(dir->entries.size());
  for (const auto& [name, child] : dir->entries) names.push_back(name);
  return names;
}

Status SimFileSystem::sync_dir(const std::string& path) {
  auto ino = lookup(path);
  if (!ino.is_ok()) return ino.status();
  Inode* dir = inode(*ino);
  if (!dir->is_dir) return failed_precondition(path + ": not a directory");
  before_sync();
  before_mutation();
  if (fail_sync_) return internal_error("fsync " + path + ": input/output error (injected)");
  dir = inode(*ino);
  dir->durable_entries = dir->entries;
  dir->dir_pending.clear();
  return Status::ok();
}

Result<FileInfo> SimFileSystem::stat(const std::string& path) {
  auto ino = lookup(path);
  if (!ino.is_ok()) return ino.status();
  const Inode* node = inode(*ino);
  FileInfo info;
  info.is_dir = node->is_dir;
  info.mode = node->mode;
  info.size = node->is_dir ? 0 : node->data.size();
  return info;
}

uint64_t SimFileSystem::unsynced_write_bytes() const {
  uint64_t n = 0;
  for (const auto& [ino, node] : state_.inodes) {
    for (const FileOp& op : node.pending) n += op.data.size();
  }
  return n;
}

std::unique_ptr<SimFileSystem> SimFileSystem::clone() const {
  auto copy = std::make_unique<SimFileSystem>();
  copy->state_ = state_;
  return copy;
}

void SimFileSystem::crash_file(Inode& node, Rng& rng) {
  std::string content = node.durable;
  for (const FileOp& op : node.pending) {
    switch (op.kind) {
      case FileOp::kWrite: {
        uint64_t fate = rng.uniform(3);
        if (fate == 0) {
          apply_write(content, op.offset, op.data);
        } else if (fate == 2) {
          // Torn: every sector-sized piece of the write independently.
          uint64_t pos = op.offset;
          const uint64_t end = op.offset + op.data.size();
          while (pos < end) {
            uint64_t piece_end = std::min(end, (pos / kSectorBytes + 1) * kSectorBytes);
            if (rng.chance(1, 2)) {
              apply_write(content, pos,
                          std::string_view(op.data).substr(pos - op.offset, piece_end - pos));
            }
            pos = piece_end;
          }
        }
        break;
      }
      case FileOp::kResize:
        if (rng.chance(1, 2)) content.resize(op.offset, '\0');
        break;
      case FileOp::kGrow:
        if (rng.chance(1, 2) && content.size() < op.offset) content.resize(op.offset, '\0');
        break;
    }
  }
  node.durable = content;
  node.data = std::move(content);
  node.pending.clear();
}

void SimFileSystem::crash(Rng& rng) {
  State s = frozen_.has_value() ? std::move(*frozen_) : std::move(state_);
  frozen_.reset();
  ops_until_freeze_ = 0;
  syncs_until_freeze_ = 0;

  // Directories first: which names survive decides which files do.
  for (auto& [ino, node] : s.inodes) {
    if (!node.is_dir) continue;
    uint64_t keep = rng.uniform(node.dir_pending.size() + 1);
    for (uint64_t i = 0; i < keep; ++i) {
      const DirOp& op = node.dir_pending[i];
      switch (op.kind) {
        case DirOp::kLink:
          node.durable_entries[op.name] = op.ino;
          break;
        case DirOp::kUnlink:
          node.durable_entries.erase(op.name);
          break;
        case DirOp::kRename:
          node.durable_entries.erase(op.name);
          node.durable_entries[op.to] = op.ino;
          break;
      }
    }
    node.entries = node.durable_entries;
    node.dir_pending.clear();
  }

  std::set<uint64_t> reachable;
  std::vector<uint64_t> stack{kRootIno};
  while (!stack.empty()) {
    uint64_t ino = stack.back();
    stack.pop_back();
    auto it = s.inodes.find(ino);
    if (it == s.inodes.end() || !reachable.insert(ino).second) continue;
    for (const auto& [name, child] : it->second.entries) stack.push_back(child);
  }
  for (auto it = s.inodes.begin(); it != s.inodes.end();) {
    it = reachable.count(it->first) != 0 ? std::next(it) : s.inodes.erase(it);
  }
  for (auto& [ino, node] : s.inodes) {
    if (!node.is_dir) crash_file(node, rng);
  }
  state_ = std::move(s);
  ++generation_;
}

}  // namespace etcd::env
