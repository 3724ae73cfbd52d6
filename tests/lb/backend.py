"""A stand-in for one MDaemon node in the load-balancer tests (tests/lb_sticky.rs).

  backend.py http NAME HOST PORT         answers every HTTP request with "NAME\n";
                                         sets no cookie (the balancer must)
  backend.py greet NAME HOST PORT LINE   a TCP service that sends LINE first,
                                         like an SMTP, IMAP or POP3 greeting
"""
import http.server
import socketserver
import sys


def http_node(name, host, port):
    body = (name + "\n").encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer((host, port), Handler).serve_forever()


def greeting_node(host, port, line):
    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            self.wfile.write((line + "\r\n").encode())
            self.wfile.flush()
            # Wait for the client to say goodbye or leave.
            for _ in self.rfile:
                break

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    Server((host, port), Handler).serve_forever()


if __name__ == "__main__":
    mode, name, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if mode == "http":
        http_node(name, host, port)
    else:
        greeting_node(host, port, sys.argv[5])
