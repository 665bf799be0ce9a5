#ifdef HODU_HAVE_PJRT_HEADER
#include "pjrt_loader.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

namespace hodu {
namespace xla {

const char* pjrt_error_code_name(int code) {
  static const char* names[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
                                "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
                                "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
                                "UNAUTHENTICATED"};
  return code >= 0 && code < (int)(sizeof names / sizeof names[0]) ? names[code] : "?";
}

std::pair<std::string, int> PjrtPlugin::take_error(PJRT_Error* err) const {
  std::string msg = "(no message)";
  int code = PJRT_Error_Code_UNKNOWN;
  try {
    HODU_PJRT_ARGS(*this, PJRT_Error_Message_Args, m);
    m->error = err;
    HODU_PJRT_FN(*this, PJRT_Error_Message)(m.get());
    if (m->message) msg.assign(m->message, m->message_size);
    HODU_PJRT_ARGS(*this, PJRT_Error_GetCode_Args, c);
    c->error = err;
    PJRT_Error* e2 = HODU_PJRT_FN(*this, PJRT_Error_GetCode)(c.get());
    if (!e2) code = (int)c->code;
    HODU_PJRT_ARGS(*this, PJRT_Error_Destroy_Args, d);
    d->error = err;
    HODU_PJRT_FN(*this, PJRT_Error_Destroy)(d.get());
  } catch (const HoduError&) {
    // a plugin without error functions: keep the defaults
  }
  return {msg, code};
}

void PjrtPlugin::check(PJRT_Error* err, ErrorCode code, const std::string& what) const {
  if (!err) return;
  auto [msg, pcode] = take_error(err);
  if (pcode == PJRT_Error_Code_RESOURCE_EXHAUSTED && code == ErrorCode::INTERNAL)
    fail(code, what, ": out of memory on the device (", msg, ")");
  fail(code, what, ": ", msg, " (PJRT ", pjrt_error_code_name(pcode), ")");
}

namespace {

std::mutex& load_mutex() {
  static std::mutex* m = new std::mutex();
  return *m;
}
// Plugins stay loaded for the life of the process (unloading tears down their static registries),
// so this map is never destroyed either (no exit-time destructor runs into a live plugin thread).
std::map<std::string, PjrtPlugin*>& plugins() {
  static auto* m = new std::map<std::string, PjrtPlugin*>();
  return *m;
}

std::string print_named_value(const PJRT_NamedValue& v) {
  switch (v.type) {
    case PJRT_NamedValue_kString: return std::string(v.string_value, v.value_size);
    case PJRT_NamedValue_kInt64: return std::to_string(v.int64_value);
    case PJRT_NamedValue_kInt64List: {
      std::string r;
      for (size_t i = 0; i < v.value_size; i++) r += (i ? "." : "") + std::to_string(v.int64_array_value[i]);
      return r;
    }
    case PJRT_NamedValue_kFloat: return std::to_string(v.float_value);
    case PJRT_NamedValue_kBool: return v.bool_value ? "true" : "false";
  }
  return "?";
}

}  // namespace

PjrtPlugin& PjrtPlugin::load(const std::string& path) {
  std::lock_guard<std::mutex> lock(load_mutex());
  char buf[PATH_MAX];
  if (path.empty()) fail(ErrorCode::BACKEND_UNAVAILABLE, "no PJRT plugin path given");
  if (!realpath(path.c_str(), buf))
    fail(ErrorCode::BACKEND_UNAVAILABLE, "the PJRT plugin ", path, " does not exist (", std::strerror(errno), ")");
  std::string canon = buf;
  auto it = plugins().find(canon);
  if (it != plugins().end()) return *it->second;
  struct stat st;
  if (stat(canon.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    fail(ErrorCode::BACKEND_UNAVAILABLE, "the PJRT plugin path ", path, " is not a file");

  // The plugin logs to stderr through absl; keep it to errors unless the user chose a level.
  setenv("TF_CPP_MIN_LOG_LEVEL", "2", 0);
  dlerror();
  void* h = dlopen(canon.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = dlerror();
    fail(ErrorCode::BACKEND_UNAVAILABLE, "cannot load the PJRT plugin ", path, ": ", e ? e : "dlopen failed");
  }
  using GetApiFn = const PJRT_Api* (*)();
  auto get_api = reinterpret_cast<GetApiFn>(dlsym(h, "GetPjrtApi"));
  if (!get_api) {
    dlclose(h);  // not a plugin: unload it again
    fail(ErrorCode::BACKEND_UNAVAILABLE, path, " is not a PJRT plugin (it does not export GetPjrtApi)");
  }
  // a plugin is never unloaded (its static registries and threads outlive any handle)
  dlopen(canon.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD | RTLD_NODELETE);
  const PJRT_Api* api = get_api();
  if (!api) fail(ErrorCode::BACKEND_UNAVAILABLE, "the PJRT plugin ", path, ": GetPjrtApi returned null");
  const size_t need = offsetof(PJRT_Api, pjrt_api_version) + sizeof(PJRT_Api_Version);
  if (api->struct_size < need)
    fail(ErrorCode::BACKEND_UNAVAILABLE, "the PJRT plugin ", path, " reports a PJRT_Api of ", api->struct_size, " bytes");

  auto p = std::make_unique<PjrtPlugin>();
  p->path = canon;
  p->api = api;
  p->api_size = api->struct_size;
  p->major = api->pjrt_api_version.major_version;
  p->minor = api->pjrt_api_version.minor_version;
  if (p->major != PJRT_API_MAJOR)
    fail(ErrorCode::BACKEND_UNAVAILABLE, "the PJRT plugin ", path, " implements PJRT C API ", p->major, ".", p->minor,
         "; this build of hodu speaks major version ", PJRT_API_MAJOR, " (header 0.", PJRT_API_MINOR, ")");
  const char* force = std::getenv("HODU_PJRT_PAD_ARGS");
  p->pad_args = p->minor > PJRT_API_MINOR || (force && std::strcmp(force, "1") == 0);
  if (force && std::strcmp(force, "0") == 0) p->pad_args = false;

  {
    HODU_PJRT_ARGS(*p, PJRT_Plugin_Initialize_Args, a);
    p->check(HODU_PJRT_FN(*p, PJRT_Plugin_Initialize)(a.get()), ErrorCode::BACKEND_UNAVAILABLE,
             "PJRT_Plugin_Initialize (" + path + ")");
  }
  if (offsetof(PJRT_Api, PJRT_Plugin_Attributes) + sizeof(void*) <= p->api_size && api->PJRT_Plugin_Attributes) {
    HODU_PJRT_ARGS(*p, PJRT_Plugin_Attributes_Args, a);
    PJRT_Error* err = api->PJRT_Plugin_Attributes(a.get());
    if (err) {
      p->take_error(err);
    } else {
      for (size_t i = 0; i < a->num_attributes; i++) {
        const PJRT_NamedValue& v = a->attributes[i];
        p->attributes.emplace_back(std::string(v.name, v.name_size), print_named_value(v));
      }
    }
  }
  PjrtPlugin* raw = p.release();
  plugins().emplace(canon, raw);
  return *raw;
}

}  // namespace xla
}  // namespace hodu

#endif  // HODU_HAVE_PJRT_HEADER
