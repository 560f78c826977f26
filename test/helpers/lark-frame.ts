/**
 * The Feishu long connection's frame (pbbp2.Frame), hand-encoded so the test server does not share
 * the SDK's codec: a protobuf message with SeqID (1, uint64), LogID (2, uint64), service (3, int32),
 * method (4, int32: 0 control, 1 data), headers (5, repeated {key 1, value 2}), payload_encoding (6),
 * payload_type (7), payload (8, bytes), LogIDNew (9).
 */
export interface LarkFrame {
  seqId: number;
  logId: number;
  service: number;
  method: number;
  headers: Record<string, string>;
  payload?: Buffer;
}

export function encodeFrame(frame: LarkFrame): Buffer {
  const parts: Buffer[] = [
    varintField(1, frame.seqId),
    varintField(2, frame.logId),
    varintField(3, frame.service),
    varintField(4, frame.method),
  ];
  for (const [key, value] of Object.entries(frame.headers)) {
    parts.push(bytesField(5, Buffer.concat([bytesField(1, Buffer.from(key)), bytesField(2, Buffer.from(value))])));
  }
  if (frame.payload) parts.push(bytesField(8, frame.payload));
  return Buffer.concat(parts);
}

export function decodeFrame(data: Buffer): LarkFrame {
  const frame: LarkFrame = { seqId: 0, logId: 0, service: 0, method: 0, headers: {} };
  for (const [field, value] of readFields(data)) {
    if (field === 1) frame.seqId = value as number;
    else if (field === 2) frame.logId = value as number;
    else if (field === 3) frame.service = value as number;
    else if (field === 4) frame.method = value as number;
    else if (field === 5) {
      let key = "";
      let text = "";
      for (const [inner, innerValue] of readFields(value as Buffer)) {
        if (inner === 1) key = (innerValue as Buffer).toString();
        if (inner === 2) text = (innerValue as Buffer).toString();
      }
      frame.headers[key] = text;
    } else if (field === 8) frame.payload = value as Buffer;
  }
  return frame;
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
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
    for (;;) {
      const byte = data[offset++];
      if (byte === undefined) throw new Error("truncated varint");
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 0x80;
    }
  };
  while (offset < data.length) {
    const key = readVarint();
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) yield [field, readVarint()];
    else if (wire === 2) {
      const length = readVarint();
      yield [field, data.subarray(offset, offset + length)];
      offset += length;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
}
