/**
 * The long connection's frame (`pbbp2.Frame` of the Feishu open platform), a protobuf message:
 * SeqID (1, uint64), LogID (2, uint64), service (3, int32), method (4, int32: 0 control, 1 data),
 * headers (5, repeated {key 1, value 2}), payload_encoding (6), payload_type (7), payload (8, bytes),
 * LogIDNew (9). Hand-coded: five scalar fields do not justify loading a protobuf runtime.
 */
export interface Frame {
  seqId: number;
  logId: number;
  service: number;
  method: number;
  /** Header keys in order (`type`, `message_id`, `sum`, `seq`, `trace_id`, …). */
  headers: [string, string][];
  payload?: Buffer;
  /** Fields 6, 7, 9 when present, kept so an answer frame can echo them. */
  extra?: { payloadEncoding?: string; payloadType?: string; logIdNew?: string };
}

export const FRAME_CONTROL = 0;
export const FRAME_DATA = 1;

/** Reads a header of the frame. */
export function frameHeader(frame: Frame, key: string): string | undefined {
  return frame.headers.find(([name]) => name === key)?.[1];
}

export function encodeFrame(frame: Frame): Buffer {
  const parts: Buffer[] = [
    varintField(1, frame.seqId),
    varintField(2, frame.logId),
    varintField(3, frame.service),
    varintField(4, frame.method),
  ];
  for (const [key, value] of frame.headers)
    parts.push(bytesField(5, Buffer.concat([bytesField(1, Buffer.from(key)), bytesField(2, Buffer.from(value))])));
  if (frame.extra?.payloadEncoding !== undefined) parts.push(bytesField(6, Buffer.from(frame.extra.payloadEncoding)));
  if (frame.extra?.payloadType !== undefined) parts.push(bytesField(7, Buffer.from(frame.extra.payloadType)));
  if (frame.payload) parts.push(bytesField(8, frame.payload));
  if (frame.extra?.logIdNew !== undefined) parts.push(bytesField(9, Buffer.from(frame.extra.logIdNew)));
  return Buffer.concat(parts);
}

/** Decodes one frame; throws on truncated or malformed input. */
export function decodeFrame(data: Buffer): Frame {
  const frame: Frame = { seqId: 0, logId: 0, service: 0, method: -1, headers: [] };
  const extra: NonNullable<Frame["extra"]> = {};
  for (const [field, value] of readFields(data)) {
    if (typeof value === "number") {
      if (field === 1) frame.seqId = value;
      else if (field === 2) frame.logId = value;
      else if (field === 3) frame.service = value;
      else if (field === 4) frame.method = value;
    } else if (field === 5) {
      let key = "";
      let text = "";
      for (const [inner, innerValue] of readFields(value)) {
        if (inner === 1 && typeof innerValue !== "number") key = innerValue.toString("utf8");
        if (inner === 2 && typeof innerValue !== "number") text = innerValue.toString("utf8");
      }
      frame.headers.push([key, text]);
    } else if (field === 6) extra.payloadEncoding = value.toString("utf8");
    else if (field === 7) extra.payloadType = value.toString("utf8");
    else if (field === 8) frame.payload = Buffer.from(value);
    else if (field === 9) extra.logIdNew = value.toString("utf8");
  }
  if (frame.method < 0) throw new Error("frame without a method");
  if (Object.keys(extra).length > 0) frame.extra = extra;
  return frame;
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value < 0 ? 2 ** 64 + value : value; // negative int32 as 10-byte two's complement (never sent in practice)
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

function varintField(field: number, value: number): Buffer {
  return Buffer.concat([varint(field << 3), varint(value)]);
}

function bytesField(field: number, value: Buffer): Buffer {
  return Buffer.concat([varint((field << 3) | 2), varint(value.length), value]);
}

function* readFields(data: Buffer): Generator<[number, number | Buffer]> {
  let offset = 0;
  const readVarint = (): number => {
    let result = 0;
    let scale = 1;
    for (let index = 0; index < 10; index += 1) {
      const byte = data[offset++];
      if (byte === undefined) throw new Error("truncated frame");
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 0x80;
    }
    throw new Error("varint longer than 10 bytes");
  };
  while (offset < data.length) {
    const key = readVarint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) yield [field, readVarint()];
    else if (wire === 2) {
      const length = readVarint();
      if (offset + length > data.length) throw new Error("truncated frame");
      yield [field, data.subarray(offset, offset + length)];
      offset += length;
    } else if (wire === 1) offset += 8;
    else if (wire === 5) offset += 4;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}
