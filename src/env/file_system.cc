#include "env/file_system.h"

namespace etcd::env {

std::string join_path(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  std::string out(dir);
  if (out.back() != '/') out.push_back('/');
  out.append(name);
  return out;
}

std::string parent_dir(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string base_name(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return std::string(path);
  return std::string(path.substr(slash + 1));
}

Status mkdir_all(FileSystem& fs, const std::string& dir, uint32_t perm) {
  auto info = fs.stat(dir);
  if (info.is_ok()) {
    if (!info->is_dir) return failed_precondition(dir + ": exists and is not a directory");
    return Status::ok();
  }
  if (info.status().code() != Code::kNotFound) return info.status();
  std::string parent = parent_dir(dir);
  if (parent != dir && parent != "." && parent != "/") RETURN_IF_ERROR(mkdir_all(fs, parent, perm));
  Status s = fs.mkdir(dir, perm);
  // Another creator in between is fine: the directory exists either way.
  if (!s.is_ok() && s.code() != Code::kAlreadyExists) return s;
  // The new entry lives in the parent: it is durable once the parent is.
  return fs.sync_dir(parent);
}

Result<std::string> read_file(FileSystem& fs, const std::string& path) {
  auto f = fs.open(path, OpenMode::kReadOnly);
  if (!f.is_ok()) return f.status();
  auto size = (*f)->size();
  if (!size.is_ok()) return size.status();
  std::string out(*size, '\0');
  size_t done = 0;
  while (done < out.size()) {
    auto n = (*f)->read_at(done, out.data() + done, out.size() - done);
    if (!n.is_ok()) return n.status();
    if (*n == 0) break;  // shrank under us
    done += *n;
  }
  out.resize(done);
  return out;
}

bool exists(FileSystem& fs, const std::string& path) { return fs.stat(path).is_ok(); }

}  // namespace etcd::env
