#include "fake_openai.hpp"

#include <utility> // before Asio (feasibility.md G4)

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <atomic>
#include <cctype>
#include <ctime>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

namespace optischema::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr const char* chat_path = "/v1/chat/completions";

std::string lower(std::string text) {
  for (auto& c : text)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string json_string(const std::string& text) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()), true);
  return {buf.GetString(), buf.GetSize()};
}

/// What the test scripts and inspects; shared by the I/O thread and the
/// test's threads.
struct server_state {
  using reply = fake_openai::reply;
  using recorded_request = fake_openai::recorded_request;

  mutable std::mutex mtx;
  std::deque<reply> queue;
  fake_openai::handler_type handler;
  std::vector<recorded_request> recorded;
  size_t in_flight = 0;
  size_t max_in_flight = 0;
  size_t connections = 0;
  /// Every POST is scripted, whatever its path (a webhook receiver).
  bool any_path = false;

  /// Records `req` and picks its reply.
  reply answer(const recorded_request& req) {
    fake_openai::handler_type f;
    {
      std::lock_guard<std::mutex> guard{mtx};
      recorded.push_back(req);
      ++in_flight;
      max_in_flight = std::max(max_in_flight, in_flight);
      auto target = req.path.substr(0, req.path.find('?'));
      if (req.method != "POST" || (target != chat_path && !any_path))
        return reply{
          404,
          fake_openai::error("no route for " + req.method + " " + req.path,
                             "not_found"),
          {},
          {}};
      if (!queue.empty()) {
        auto r = std::move(queue.front());
        queue.pop_front();
        return r;
      }
      f = handler;
    }
    if (!f)
      return reply{
        500, fake_openai::error("no scripted reply", "server_error"), {}, {}};
    try {
      return f(req);
    } catch (const std::exception& e) {
      return reply{500,
                   fake_openai::error(std::string{"handler threw: "} + e.what(),
                                      "server_error"),
                   {},
                   {}};
    }
  }

  /// A reply went out (or its connection died).
  void done() {
    std::lock_guard<std::mutex> guard{mtx};
    --in_flight;
  }
};

} // namespace

struct fake_openai::impl {
  // The state first: sessions destroyed with the io_context still touch it.
  server_state state;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  unsigned short port = 0;
  std::thread thread;

  void accept();
};

namespace {

class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket sock, server_state& owner)
    : stream_(std::move(sock)), timer_(stream_.get_executor()), owner_(owner) {
    // nop
  }

  ~session() {
    finish();
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(64 * 1024 * 1024);
    http::async_read(stream_, buf_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->on_read(ec);
                     });
  }

private:
  void on_read(beast::error_code ec) {
    if (ec)
      return close();
    auto req = parser_->release();
    fake_openai::recorded_request rec;
    rec.method = std::string{req.method_string()};
    rec.path = std::string{req.target()};
    for (auto& field : req)
      rec.headers[lower(std::string{field.name_string()})]
        = std::string{field.value()};
    rec.body = std::move(req.body());
    rec.received = fake_openai::clock::now();
    busy_ = true;
    auto r = owner_.answer(rec);
    res_ = {};
    res_.version(req.version());
    res_.result(r.status);
    res_.keep_alive(req.keep_alive());
    bool has_type = false;
    for (auto& [k, v] : r.headers) {
      has_type = has_type || lower(k) == "content-type";
      res_.set(k, v);
    }
    if (!has_type)
      res_.set(http::field::content_type, "application/json");
    res_.body() = std::move(r.body);
    res_.prepare_payload();
    drop_ = r.drop_connection;
    if (r.delay.count() > 0) {
      timer_.expires_after(r.delay);
      timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (!ec)
          self->write();
      });
    } else {
      write();
    }
  }

  void write() {
    http::async_write(
      stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
        self->finish();
        if (ec || !self->res_.keep_alive() || self->drop_)
          return self->close();
        self->read();
      });
  }

  void finish() {
    if (busy_) {
      busy_ = false;
      owner_.done();
    }
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  net::steady_timer timer_;
  server_state& owner_;
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  bool busy_ = false;
  bool drop_ = false;
};

} // namespace

void fake_openai::impl::accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket sock) {
    if (ec)
      return; // closed: the server stops
    {
      std::lock_guard<std::mutex> guard{state.mtx};
      ++state.connections;
    }
    std::make_shared<session>(std::move(sock), state)->read();
    accept();
  });
}

fake_openai::fake_openai() : impl_(std::make_unique<impl>()) {
  tcp::endpoint ep{net::ip::make_address("127.0.0.1"), 0};
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(net::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  impl_->port = impl_->acceptor.local_endpoint().port();
  impl_->accept();
  impl_->thread = std::thread{[x = impl_.get()] { x->ioc.run(); }};
}

fake_openai::~fake_openai() {
  // Stopping the io_context abandons waiting timers (delayed replies) and
  // open connections at once; their handlers are destroyed with it.
  impl_->ioc.stop();
  impl_->thread.join();
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
}

std::string fake_openai::base_url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port) + "/v1";
}

unsigned short fake_openai::port() const {
  return impl_->port;
}

void fake_openai::push(reply r) {
  std::lock_guard<std::mutex> guard{impl_->state.mtx};
  impl_->state.queue.push_back(std::move(r));
}

void fake_openai::accept_every_path() {
  std::lock_guard<std::mutex> guard{impl_->state.mtx};
  impl_->state.any_path = true;
}

void fake_openai::set_handler(handler_type f) {
  std::lock_guard<std::mutex> guard{impl_->state.mtx};
  impl_->state.handler = std::move(f);
}

std::string fake_openai::completion(const std::string& content,
                                    int prompt_tokens, int completion_tokens,
                                    const std::string& model) {
  static std::atomic<int> next_id{1};
  return R"({"id":"chatcmpl-fake-)" + std::to_string(next_id++)
    + R"(","object":"chat.completion","created":)"
    + std::to_string(std::time(nullptr)) + R"(,"model":)" + json_string(model)
    + R"(,"choices":[{"index":0,"message":{"role":"assistant","content":)"
    + json_string(content)
    + R"(},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":)"
    + std::to_string(prompt_tokens) + R"(,"completion_tokens":)"
    + std::to_string(completion_tokens) + R"(,"total_tokens":)"
    + std::to_string(prompt_tokens + completion_tokens) + "}}";
}

std::string fake_openai::error(const std::string& message,
                               const std::string& type,
                               const std::string& param) {
  return R"({"error":{"message":)" + json_string(message) + R"(,"type":)"
    + json_string(type) + R"(,"param":)"
    + (param.empty() ? std::string{"null"} : json_string(param))
    + R"(,"code":null}})";
}

std::vector<fake_openai::recorded_request> fake_openai::requests() const {
  std::lock_guard<std::mutex> guard{impl_->state.mtx};
  return impl_->state.recorded;
}

size_t fake_openai::calls() const {
  std::lock_guard<std::mutex> guard{impl_->state.mtx};
  return impl_->state.recorded.size();
}

size_t fake_openai::max_in_flight() const {
  std::lock_guard<std::mutex> guard{impl_->state.mtx};
  return impl_->state.max_in_flight;
}

void fake_openai::clear() {
  std::lock_guard<std::mutex> guard{impl_->state.mtx};
  impl_->state.recorded.clear();
  impl_->state.queue.clear();
  impl_->state.max_in_flight = impl_->state.in_flight;
  impl_->state.connections = 0;
}

size_t fake_openai::connections() const {
  std::lock_guard<std::mutex> guard{impl_->state.mtx};
  return impl_->state.connections;
}

} // namespace optischema::test
