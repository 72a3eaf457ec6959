# MicroPython: implicit-FTPS upload the way a hub can do it (mbedTLS, no TLS session resumption).
# argv: port access_code name size; prints the final control reply.
import socket
import ssl
import sys

port = int(sys.argv[1])
code = sys.argv[2]
name = sys.argv[3]
size = int(sys.argv[4])


def tls(sock):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_NONE
    return ctx.wrap_socket(sock, server_hostname="printer")


def connect(p):
    s = socket.socket()
    s.connect(socket.getaddrinfo("127.0.0.1", p)[0][-1])
    return s


ctrl = tls(connect(port))


def reply():
    # MicroPython's read(n) waits for n bytes; control replies are lines, so read lines.
    while True:
        line = ctrl.readline()
        if not line:
            raise OSError("control closed")
        line = line.rstrip(b"\r\n")
        if len(line) > 3 and line[3:4] == b" ":
            return line.decode()


def cmd(text):
    ctrl.write(text.encode() + b"\r\n")
    return reply()


print(reply())
print(cmd("USER bblp"))
print(cmd("PASS " + code))
print(cmd("PBSZ 0"))
print(cmd("PROT P"))
print(cmd("TYPE I"))
pasv = cmd("PASV")
nums = pasv[pasv.index("(") + 1 : pasv.index(")")].split(",")
data_port = int(nums[4]) * 256 + int(nums[5])
raw = connect(data_port)
print(cmd("STOR " + name))
data = tls(raw)
chunk = b"m" * 1024
sent = 0
try:
    while sent < size:
        n = min(1024, size - sent)
        data.write(chunk[:n])
        sent += n
    data.close()
except OSError as exc:
    print("data error", exc)
print(reply())
