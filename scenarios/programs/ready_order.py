"""The program of ready-order.toml: epoll reports sockets in the order they became ready.

Run it on Linux (python3 ready_order.py): each epoll_wait prints the names it reports.
"""

import select
import socket

a, a_peer = socket.socketpair()
b, b_peer = socket.socketpair()
c, c_peer = socket.socketpair()
d, d_peer = socket.socketpair()
ep = select.epoll()
ep.register(a, select.EPOLLIN)
ep.register(b, select.EPOLLIN)
ep.register(c, select.EPOLLIN)
ep.register(d, select.EPOLLIN)
names = {a.fileno(): "a", b.fileno(): "b", c.fileno(): "c", d.fileno(): "d"}


def wait(maxevents: int) -> None:
    """One epoll_wait that does not block (timeout 0); print who is ready, in order."""
    events = ep.poll(0, maxevents)
    print("wait:", *(names[fd] for fd, _mask in events))


c_peer.send(b"x")  # one byte arrives on c first,
a_peer.send(b"x")  # then on a,
d_peer.send(b"x")  # then on d,
b_peer.send(b"x")  # then on b
wait(8)  # all four, in the order they became ready: c a d b

# A small maxevents: each call takes the head of the ready list, and a level-triggered
# socket goes back to its tail -- round robin.
for _ in range(5):
    wait(1)

a.recv(16)  # a is drained: it leaves the ready list at the next wait
wait(8)
