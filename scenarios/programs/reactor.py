"""The program of reactor-vs-proactor.toml, its reactor half: epoll says which sockets are
ready, then the program reads each one (one epoll_wait, plus one recv per socket).

Run it on Linux (python3 reactor.py). The proactor half (io_uring) has no binding in Python's
standard library; its steps are the lesson's second part and mark no line here.
"""

import select
import socket

a, client_a = socket.socketpair()
b, client_b = socket.socketpair()
ep = select.epoll()
ep.register(a, select.EPOLLIN)
ep.register(b, select.EPOLLIN)
conns = {a.fileno(): ("a", a), b.fileno(): ("b", b)}

client_a.send(bytes(100))  # the two clients send
client_b.send(bytes(200))

# The reactor's loop, one turn of it: wait for readiness, then do the I/O.
events = ep.poll(0, 8)
print("wait:", *(conns[fd][0] for fd, _mask in events))
for fd, _mask in events:
    name, conn = conns[fd]
    data = conn.recv(1000)
    print("read:", name, len(data))
