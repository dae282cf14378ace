// The bare Node `ws` relay (issue 7): the same behaviour as bench/baseline_relay.py.
// A client joins the room named by the request path; each text message it sends is
// forwarded to the room's other members. No auth, no storage, no compression.
// Prints "READY <port>" when listening; exits on SIGTERM/SIGINT.
import { WebSocketServer } from "ws";

const portArg = process.argv.indexOf("--port");
const port = portArg >= 0 ? Number(process.argv[portArg + 1]) : 0;
const rooms = new Map();
const wss = new WebSocketServer({
  host: "127.0.0.1",
  port,
  backlog: 4096,
  perMessageDeflate: false,
  maxPayload: 256 * 1024,
});

wss.on("connection", (socket, request) => {
  const room = request.url || "/";
  let members = rooms.get(room);
  if (!members) {
    members = new Set();
    rooms.set(room, members);
  }
  members.add(socket);
  socket.on("message", (data, isBinary) => {
    for (const other of members) {
      if (other !== socket && other.readyState === 1) other.send(data, { binary: isBinary });
    }
  });
  socket.on("close", () => {
    members.delete(socket);
    if (members.size === 0) rooms.delete(room);
  });
  socket.on("error", () => {});
});

wss.on("listening", () => {
  process.stdout.write(`READY ${wss.address().port}\n`);
});

const stop = () => {
  for (const client of wss.clients) client.terminate();
  wss.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
