// Preloaded (`node --import loopback.mjs ...`) into the peers that have no
// host option (supergateway, server-everything's own HTTP transport), so they
// listen on 127.0.0.1 instead of every interface. Only a listen on a TCP port
// without a host is changed; nothing else is touched.
import net from "node:net";

const listen = net.Server.prototype.listen;

net.Server.prototype.listen = function (...args) {
  const [first] = args;
  if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    if (typeof args[1] !== "string") args.splice(1, 0, "127.0.0.1");
  } else if (first && typeof first === "object" && first.path === undefined && first.host === undefined) {
    args[0] = { ...first, host: "127.0.0.1" };
  }
  return listen.apply(this, args);
};
