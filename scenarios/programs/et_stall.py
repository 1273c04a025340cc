"""The program of et-stall.toml: level- vs edge-triggered epoll after a partial read.

Run it on Linux (python3 et_stall.py): each epoll_wait prints the names it reports.
"""

import select
import socket

lt, lt_peer = socket.socketpair()  # read on lt, write on lt_peer
et, et_peer = socket.socketpair()  # read on et, write on et_peer
lt.setblocking(False)  # a read of an empty socket fails with EAGAIN instead of waiting
et.setblocking(False)
ep = select.epoll()
ep.register(lt, select.EPOLLIN)  # level-triggered (the default)
ep.register(et, select.EPOLLIN | select.EPOLLET)  # edge-triggered
names = {lt.fileno(): "lt", et.fileno(): "et"}


def wait() -> None:
    """One epoll_wait that does not block (timeout 0); print who is ready, in order."""
    events = ep.poll(0, 8)
    print("wait:", *(names[fd] for fd, _mask in events))


lt_peer.send(bytes(100))
et_peer.send(bytes(100))
wait()  # lt et

lt.recv(10)  # a partial read: 90 bytes are left
et.recv(10)
wait()  # lt only: no new data, no new edge for et -- the ET stall

# The rule for an edge-triggered socket: read until EAGAIN.
et.recv(1000)  # the other 90 bytes
try:
    et.recv(1000)
except BlockingIOError:  # EAGAIN: drained, back to epoll_wait
    print("recv: EAGAIN")

et_peer.send(bytes(5))  # new data is a new edge
wait()  # lt et
