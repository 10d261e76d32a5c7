// A client that closes its connection before its request body is whole: recorded as the client
// abort it is (499 client_closed_request), not as a 400 error the gateway never sent.
import { expect, test } from "bun:test";
import { connect } from "node:net";
import type { FinishRecord } from "../src/gateway/finish.ts";
import { startGateway } from "./support/gateway.ts";

test("regression: a body cut off by the client is a client abort in the record, not a 400", async () => {
  await using gw = startGateway({ CHATGATE_MOCK: "1" });
  const recorded = Promise.withResolvers<FinishRecord>();
  gw.app.gateway.finishes.subscribe((record) => recorded.resolve(record));
  const socket = connect({ host: "127.0.0.1", port: Number(new URL(gw.url).port) });
  socket.on("error", () => {});
  socket.on("connect", () => {
    // The rest of the body never comes: the client goes away once the first part is sent.
    socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model"', () => socket.destroy());
  });
  const record = await recorded.promise;
  expect(record).toMatchObject({ route: "/v1/chat/completions", status: 499, outcome: "client_abort", errorCode: "client_closed_request" });
});
