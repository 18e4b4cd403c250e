// The services of rpyc's own test files, in C++, for rpyc_shim.py: the Python test runs
// unchanged, and where it starts a Python server for its service the shim starts this
// program instead.
//
// Usage: rpyc_suite_server SERVICE [--map PORT=REAL]...
//   SERVICE: void (nothing defined), custom_service, attr_access, attr_access_decorated, remote_exception,
//            context_managers, threads, oneshot_server, dataclass, over_service,
//            over_intermediate
//   --map:   a port the test names (18878) and the free port its server really has; the
//            intermediate service of test_rpyc_over_rpyc connects through it.
// Commands, one a line on standard input, each answered by one line on standard output:
//   listen threaded|oneshot [include_local_traceback=0] [include_local_version=0]
//          [exposed_prefix=P] [tls_certificate=PEM tls_key=PEM [tls_client_ca=PEM]
//          [tls_require_client_certificate=1]]
//                                  -> "port N": a server of SERVICE on 127.0.0.1, free port
//   state NAME                     -> "true" / "false": a flag the service sets (rpyc's
//                                     test reads it off the service object)
//   clients                        -> "N": connections open over every server
//   closed                         -> "true" once every one-shot server has served and closed
// End of input stops every server and ends the program. One program for every service (the
// service is the first argument), so the suite costs one link.
#include <netref/netref.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using namespace netref;

namespace {

/// The flags rpyc's tests read off their service object (on_connect_called...).
class Flags {
 public:
  void set(const std::string& name) {
    std::lock_guard lock(mutex_);
    flags_[name] = true;
  }
  bool get(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = flags_.find(name);
    return it != flags_.end() && it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, bool> flags_;
};

/// What the services share: the flags, and the ports the test named (--map).
struct World {
  Flags flags;
  std::map<std::uint16_t, std::uint16_t> ports;
  std::uint16_t real_port(std::uint16_t port) const {
    auto it = ports.find(port);
    return it == ports.end() ? port : it->second;
  }
};

// ---- test_custom_service.py: MyService --------------------------------------------------

struct MyClass {  // MyService.MyClass
  std::string a, b;
};
struct MetaInstance {};  // what getmeta returns: an instance of a class made by a metaclass

Service custom_service(Registry& types, World& world, const std::string& exposed_prefix) {
  types.expose<MyClass>("MyClass").def("foo", [](const MyClass& c) { return c.a + c.b; });
  types.expose<MetaInstance>("MyMeta_instance");  // Python names it MyClass too; netref names are unique
  Service svc(types, "MyService");  // rpyc's alias: "MY"
  svc.on_connect([&world](Connection&) { world.flags.set("on_connect_called"); });
  svc.on_disconnect([&world](Connection&) { world.flags.set("on_disconnect_called"); });
  svc.def("on_about_to_close", [&world] { world.flags.set("on_about_to_close_called"); });
  using Point = std::tuple<double, double>;
  svc.def("distance", [](Point p1, Point p2) {
    return std::hypot(std::get<0>(p2) - std::get<0>(p1), std::get<1>(p2) - std::get<1>(p1));
  });
  svc.def("getlist", [] { return std::vector<std::int64_t>{1, 2, 3}; });
  svc.def("getmeta", [] { return std::make_shared<MetaInstance>(); });
  svc.def("MyClass", [](std::string a, std::string b) { return std::make_shared<MyClass>(MyClass{a, b}); });
  svc.def("get_decorated", [] { return std::string("decorated"); });
  // rpyc.exposed('prefix_'): reachable only where the connection's prefix is "prefix_".
  if (exposed_prefix == "prefix_") svc.def("get_decorated_prefix", [] { return std::string("decorated_prefix"); });
  return svc;
}

// ---- test_attr_access.py: MyService and MyDecoratedService --------------------------------

struct AccessClass {};      // MyClass under the default config: foobar, and the safe __add__
struct RestrictedClass {};  // rpyc.restricted(MyClass(), SVC_RESTRICTED)

Service attr_access(Registry& types) {
  types.expose<AccessClass>("MyClass")
      .def("foobar", [](const AccessClass&) { return std::string("Fee Fie Foe Foo"); })
      .def("__add__", [](const AccessClass&, const std::string& other) { return "foo" + other; });
  types.expose<RestrictedClass>("MyClass_restricted")
      .def("foobar", [](const RestrictedClass&) { return std::string("Fee Fie Foe Foo"); })
      .def("__add__", [](const RestrictedClass&, const std::string& other) { return "foo" + other; })
      .def("_privy", [](const RestrictedClass&) { return std::string("privy"); })
      .def("foo", [](const RestrictedClass&) { return std::string("foo"); })
      .def("bar", [](const RestrictedClass&) { return std::string("bar"); });
  Service svc(types, "MyService");
  svc.def("MyClass", [] { return std::make_shared<AccessClass>(); });
  svc.def("get_one", [] { return std::make_shared<RestrictedClass>(); });
  return svc;
}

Service attr_access_decorated(Registry& types) {
  Service svc(types, "MyDecoratedService");
  svc.def_property("desc_1", []() -> std::int64_t { throw AttributeError("abcd"); });
  svc.def_property("desc_2", []() -> std::int64_t { throw std::runtime_error("efgh"); });
  return svc;
}

// ---- test_remote_exception.py: MyService --------------------------------------------------

Service remote_exception(Registry& types) {
  Service svc(types, "MyService");
  svc.def("remote_assert", [](bool value) {
    if (!value) throw AssertionError("");
  });
  return svc;
}

// ---- test_context_managers.py: MyService.context, a context manager ----------------------

struct Context {
  std::int64_t y = 0;
  World* world = nullptr;
};

Service context_managers(Registry& types, World& world) {
  types.expose<Context>("_GeneratorContextManager")
      .def("__enter__",
           [](Context& c) {
             c.world->flags.set("on_context_enter");
             return 17 + c.y;
           })
      .def("__exit__", [](Context& c, Proxy type, Proxy, Proxy) {
        if (!type.value().is_none()) c.world->flags.set("on_context_exc");
        c.world->flags.set("on_context_exit");
        return false;  // the exception, if any, goes on
      });
  Service svc(types, "MyService");
  svc.def("context", [&world](std::int64_t y) { return std::make_shared<Context>(Context{y, &world}); });
  return svc;
}

// ---- test_threads.py: MyService.Invoker calls its client back from a thread of its own ----

class Invoker {
 public:
  Invoker(Proxy callback, double interval) : callback_(std::move(callback)), interval_(interval) {
    thread_ = std::thread([this] { work(); });
  }
  ~Invoker() { stop(); }
  Invoker(const Invoker&) = delete;
  Invoker& operator=(const Invoker&) = delete;

  void stop() {
    {
      std::lock_guard lock(mutex_);
      active_ = false;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void work() {
    const auto period = std::chrono::duration<double>(interval_);
    std::unique_lock lock(mutex_);
    while (active_) {
      lock.unlock();
      const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
      try {
        callback_.oneway_call(now);  // rpyc.async_(callback)(time.time())
      } catch (const std::exception&) {
        return;  // the client is gone
      }
      lock.lock();
      wake_.wait_for(lock, period, [this] { return !active_; });
    }
  }

  Proxy callback_;
  double interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool active_ = true;
  std::thread thread_;
};

Service threads(Registry& types) {
  types.expose<Invoker>("Invoker").def("stop", &Invoker::stop);
  Service svc(types, "MyService");
  svc.def("Invoker", [](Proxy callback, double interval) { return std::make_shared<Invoker>(std::move(callback), interval); });
  svc.def("foo", [](std::int64_t x) {
    std::this_thread::sleep_for(std::chrono::seconds(2));  // rpyc's service sleeps: the test counts callbacks meanwhile
    return x * 17;
  });
  return svc;
}

// ---- test_oneshot_server.py: MyService -----------------------------------------------------

Service oneshot_server(Registry& types) {
  Service svc(types, "MyService");
  svc.def("foo", [] { return std::string("bar"); });
  return svc;
}

// ---- test_dataclass.py: MyService.create_dataclass, a dataclass of standard types ----------

struct StdTypes {
  std::int64_t intObj = 31;
  std::string strObj = "stdtypes string";
  double floatObj = 3.14;
  Bytes bytesObj{"stdtypes bytes"};
};

Service dataclass(Registry& types) {
  types.expose<StdTypes>("StdTypes")
      .def_readonly("intObj", &StdTypes::intObj)
      .def_readonly("strObj", &StdTypes::strObj)
      .def_readonly("floatObj", &StdTypes::floatObj)
      .def_readonly("bytesObj", &StdTypes::bytesObj);
  Service svc(types, "MyService");
  svc.def("create_dataclass", [] { return std::make_shared<StdTypes>(); });
  return svc;
}

// ---- test_rpyc_over_rpyc.py: Service, and Intermediate that calls it ----------------------

Service over_service(Registry& types) {
  Service svc(types, "Service");
  svc.def("fee", [](Proxy arg) { return arg; });
  svc.def("fee_str", [](Proxy arg) { return arg.str(); });
  svc.def("foe_update", [](Proxy arg, std::string msg) {
    arg.attr("msg").set(arg.attr("msg").get().as<std::string>() + " foe" + msg);
    return arg;
  });
  return svc;
}

Service over_intermediate(Registry& types, World& world) {
  static constexpr std::uint16_t service_port = 18878;  // Service.PORT
  Service svc(types, "Intermediate");
  auto connect_service = [&world] { return netref::connect("127.0.0.1", world.real_port(service_port)); };
  svc.def("fee", [connect_service](Proxy arg) {
    auto conn = connect_service();
    Proxy result = conn->root().attr("fee").call(arg);
    conn->close();
    return result;
  });
  svc.def("fee_str", [connect_service](Proxy arg) {
    auto conn = connect_service();
    auto result = conn->root().attr("fee_str").call(arg).as<std::string>();
    conn->close();
    return result;
  });
  svc.def("fie_update", [connect_service](Proxy arg) {
    arg.attr("msg").set(arg.attr("msg").get().as<std::string>() + " fie");
    auto conn = connect_service();
    Proxy result = conn->root().attr("foe_update").call(arg, std::string(" foo bar"));
    conn->close();
    return result;
  });
  return svc;
}

// ---- the program ---------------------------------------------------------------------------

/// One listener: threaded or one-shot, with the connection settings rpyc's protocol_config
/// gave it.
class SuiteServer {
 public:
  virtual ~SuiteServer() = default;
  virtual std::uint16_t port() const = 0;
  virtual std::size_t clients() const = 0;
  virtual bool closed() const = 0;
};

class Threaded final : public SuiteServer {
 public:
  Threaded(Service svc, const ServerConfig& config) : server_(std::move(svc), config) { server_.start(); }
  std::uint16_t port() const override { return server_.port(); }
  std::size_t clients() const override { return server_.connection_count(); }
  bool closed() const override { return false; }

 private:
  ThreadedServer server_;
};

class OneShot final : public SuiteServer {
 public:
  OneShot(Service svc, const ServerConfig& config) : server_(std::move(svc), config) {
    thread_ = std::thread([this] {
      server_.serve();
      done_ = true;
    });
  }
  ~OneShot() override {
    server_.stop();
    thread_.join();
  }
  std::uint16_t port() const override { return server_.port(); }
  // OneShotServer does not say whether its client has come yet: counts it until serve() returns.
  std::size_t clients() const override { return done_ ? 0 : 1; }
  bool closed() const override { return done_; }

 private:
  OneShotServer server_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

Service make_service(const std::string& name, Registry& types, World& world, const std::string& exposed_prefix) {
  if (name == "void") return Service(types, "SlaveService");  // its tests that run never use the root
  if (name == "custom_service") return custom_service(types, world, exposed_prefix);
  if (name == "attr_access") return attr_access(types);
  if (name == "attr_access_decorated") return attr_access_decorated(types);
  if (name == "remote_exception") return remote_exception(types);
  if (name == "context_managers") return context_managers(types, world);
  if (name == "threads") return threads(types);
  if (name == "oneshot_server") return oneshot_server(types);
  if (name == "dataclass") return dataclass(types);
  if (name == "over_service") return over_service(types);
  if (name == "over_intermediate") return over_intermediate(types, world);
  throw std::invalid_argument("no such service: " + name);
}

std::unique_ptr<SuiteServer> listen(const std::string& service, World& world, std::istringstream& words) {
  std::string kind, setting;
  words >> kind;
  ServerConfig config;
  config.port = 0;
  TlsServerOptions tls;
  while (words >> setting) {
    const auto eq = setting.find('=');
    const std::string key = setting.substr(0, eq), value = eq == std::string::npos ? "" : setting.substr(eq + 1);
    if (key == "include_local_traceback") {
      config.connection.include_local_traceback = value == "1";
    } else if (key == "include_local_version") {
      config.connection.include_local_version = value == "1";
    } else if (key == "exposed_prefix") {
      config.connection.exposed_prefix = value;
    } else if (key == "tls_certificate") {
      tls.certificate = Pem::file(value);
    } else if (key == "tls_key") {
      tls.private_key = Pem::file(value);
    } else if (key == "tls_client_ca") {
      tls.client_ca = Pem::file(value);
    } else if (key == "tls_require_client_certificate") {
      tls.require_client_certificate = value == "1";
    } else {
      throw std::invalid_argument("unknown setting: " + setting);
    }
  }
  if (!tls.certificate.path.empty()) config.tls = TlsContext::server(tls);  // rpyc's SSLAuthenticator
  Registry types;  // one per listener: a listener's service may differ by its prefix
  Service svc = make_service(service, types, world, config.connection.exposed_prefix);
  if (kind == "threaded") return std::make_unique<Threaded>(std::move(svc), config);
  if (kind == "oneshot") return std::make_unique<OneShot>(std::move(svc), config);
  throw std::invalid_argument("unknown server kind: " + kind);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: rpyc_suite_server SERVICE [--map PORT=REAL]...\n";
    return 2;
  }
  set_log_handler([](LogLevel level, std::string_view message, ConnectionId) {
    if (level >= LogLevel::warning) std::cerr << "rpyc_suite_server " << to_string(level) << ": " << message << '\n';
  });
  const std::string service = argv[1];
  World world;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    const auto eq = value.find('=');
    if (flag != "--map" || eq == std::string::npos) {
      std::cerr << "rpyc_suite_server: bad argument " << flag << ' ' << value << '\n';
      return 2;
    }
    world.ports[static_cast<std::uint16_t>(std::stoi(value.substr(0, eq)))] =
        static_cast<std::uint16_t>(std::stoi(value.substr(eq + 1)));
  }
  std::vector<std::unique_ptr<SuiteServer>> listeners;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::string command;
    words >> command;
    try {
      if (command == "listen") {
        listeners.push_back(listen(service, world, words));
        std::cout << "port " << listeners.back()->port() << std::endl;
      } else if (command == "state") {
        std::string name;
        words >> name;
        std::cout << (world.flags.get(name) ? "true" : "false") << std::endl;
      } else if (command == "clients") {
        std::size_t n = 0;
        for (const auto& l : listeners) n += l->clients();
        std::cout << n << std::endl;
      } else if (command == "closed") {
        bool closed = !listeners.empty();
        for (const auto& l : listeners) closed = closed && l->closed();
        std::cout << (closed ? "true" : "false") << std::endl;
      } else {
        std::cout << "error unknown command: " << command << std::endl;
      }
    } catch (const std::exception& e) {
      std::cout << "error " << e.what() << std::endl;
    }
  }
  listeners.clear();  // stops every server
  return 0;
}
