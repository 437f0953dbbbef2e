// SSH_MSG_DISCONNECT with a description (RFC 4253 §11.1): the one native way to tell an SSH
// client why the gateway will not serve it after its identity checked out (target down, too many
// sessions, no access). OpenSSH prints "Received disconnect from …: <code>: <description>" and
// exits 255. ssh2's own Protocol.disconnect() sends no description, so this frames the packet
// itself through ssh2's packet writer (undocumented internals: `_protocol._packetRW` and
// utils.sendPacket — pinned by test/integration/ssh/login-refusal.test.ts).
import type { Connection } from 'ssh2';
import ssh2Utils from 'ssh2/lib/protocol/utils.js';

export const DISCONNECT = {
  HOST_NOT_ALLOWED_TO_CONNECT: 1,
  SERVICE_NOT_AVAILABLE: 7,
  TOO_MANY_CONNECTIONS: 12,
} as const;

const MESSAGE_DISCONNECT = 1;
/** A description longer than this is cut (clients show one line). */
const MAX_DESCRIPTION_BYTES = 1024;

interface PacketWriter {
  allocStartKEX: number;
  alloc(payloadLength: number, force: boolean): Buffer;
  finalize(packet: Buffer, force: boolean): Buffer;
}
interface ProtocolInternals {
  _packetRW?: { write?: PacketWriter };
}

/** Sends the reason and closes the connection; falls back to a plain close if ssh2 changed. */
export function disconnectWithReason(conn: Connection, code: number, description: string): void {
  const proto = (conn as unknown as { _protocol?: ProtocolInternals })._protocol;
  const writer = proto?._packetRW?.write;
  const sendPacket = (ssh2Utils as { sendPacket?: (p: unknown, packet: Buffer, bypass: boolean) => void }).sendPacket;
  if (writer && typeof sendPacket === 'function') {
    try {
      const text = Buffer.from(description, 'utf8').subarray(0, MAX_DESCRIPTION_BYTES);
      const p = writer.allocStartKEX;
      const packet = writer.alloc(1 + 4 + 4 + text.length + 4, true);
      packet[p] = MESSAGE_DISCONNECT;
      packet.writeUInt32BE(code, p + 1);
      packet.writeUInt32BE(text.length, p + 5);
      text.copy(packet, p + 9);
      packet.writeUInt32BE(0, p + 9 + text.length); // language tag: empty
      sendPacket(proto, writer.finalize(packet, true), true);
    } catch {
      // The plain close below still ends the connection.
    }
  }
  conn.end();
}
