"""One URL parser for the hub's clients (file downloads over HTTP(S), the cloud WebSocket)."""

# scheme -> default port
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def split_url(url, schemes):
    """Split scheme://host[:port][/path] into (scheme, host, port, path) for one of `schemes`;
    ValueError naming the problem otherwise (other scheme, no host, bad port)."""
    sep = url.find("://")
    scheme = url[:sep] if sep > 0 else ""
    if scheme not in schemes:
        raise ValueError("unsupported URL scheme: " + url[:16])
    port = DEFAULT_PORTS[scheme]
    rest = url[sep + 3 :]
    slash = rest.find("/")
    hostport, path = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
    if hostport.startswith("["):  # IPv6 literal: [v6]:port
        end = hostport.find("]")
        host = hostport[1:end]
        if hostport[end + 1 : end + 2] == ":":
            port = int(hostport[end + 2 :])
    elif ":" in hostport:
        host, number = hostport.rsplit(":", 1)
        port = int(number)
    else:
        host = hostport
    if not host:
        raise ValueError("URL without host")
    return scheme, host, port, path
