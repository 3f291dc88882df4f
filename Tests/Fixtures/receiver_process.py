"""What the webhook receivers of the tests share: serve on loopback, say the port through a file written
atomically, and end when the test process that started them is gone."""
import os
import threading
from http.server import ThreadingHTTPServer


def serve(handler, port_file, port=0, reuse_address=False):
    ThreadingHTTPServer.allow_reuse_address = reuse_address
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    parent = os.getppid()

    def watch_parent():
        while os.getppid() == parent:
            threading.Event().wait(1)
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    server.serve_forever()
