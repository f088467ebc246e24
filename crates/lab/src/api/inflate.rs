//! A small DEFLATE decoder (RFC 1951) for one job: SPDY/3 header blocks,
//! which are a single zlib stream per connection, with a preset dictionary,
//! each frame's share ending in a sync flush (so at a byte boundary). The lab
//! pulls in no compression crate for this; speed does not matter here.

/// The decoder of one direction of a SPDY session: the zlib header is read
/// from the first block; back-references reach into the dictionary and all
/// earlier output.
#[derive(Debug, Clone)]
pub struct Inflater {
    history: Vec<u8>,
    started: bool,
}

const WINDOW: usize = 32 * 1024;

const LENGTH_BASE: [u16; 29] =
    [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA: [u8; 29] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DISTANCE_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
    8193, 12289, 16385, 24577,
];
const DISTANCE_EXTRA: [u8; 30] =
    [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CODE_LENGTH_ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

struct Bits<'a> {
    data: &'a [u8],
    position: usize,
    buffer: u32,
    count: u32,
}

impl Bits<'_> {
    fn take(&mut self, need: u32) -> Result<u32, String> {
        let mut value = self.buffer;
        while self.count < need {
            let byte = *self.data.get(self.position).ok_or("deflate: the data ends inside a block")?;
            self.position += 1;
            value |= u32::from(byte) << self.count;
            self.count += 8;
        }
        self.buffer = if need == 32 { 0 } else { value >> need };
        self.count -= need;
        Ok(if need == 32 { value } else { value & ((1 << need) - 1) })
    }

    /// Drops the bits left of the current byte.
    fn align(&mut self) {
        self.buffer = 0;
        self.count = 0;
    }

    fn exhausted(&self) -> bool {
        self.position >= self.data.len()
    }
}

/// A canonical Huffman code: how many codes of each length, and the symbols in code order.
struct Huffman {
    count: [u16; 16],
    symbol: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Self {
        let mut count = [0u16; 16];
        for &length in lengths {
            count[usize::from(length)] += 1;
        }
        let mut offsets = [0u16; 16];
        for length in 1..15 {
            offsets[length + 1] = offsets[length] + count[length];
        }
        let mut symbol = vec![0u16; lengths.len()];
        for (s, &length) in lengths.iter().enumerate() {
            if length != 0 {
                let slot = &mut offsets[usize::from(length)];
                if let Some(place) = symbol.get_mut(usize::from(*slot)) {
                    *place = s as u16;
                }
                *slot += 1;
            }
        }
        count[0] = 0;
        Self { count, symbol }
    }

    fn decode(&self, bits: &mut Bits) -> Result<u16, String> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for length in 1..16 {
            code |= bits.take(1)? as i32;
            let count = i32::from(self.count[length]);
            if code - count < first {
                let at = (index + code - first) as usize;
                return self.symbol.get(at).copied().ok_or_else(|| "deflate: a bad code".to_string());
            }
            index += count;
            first += count;
            first <<= 1;
            code <<= 1;
        }
        Err("deflate: a code longer than 15 bits".into())
    }
}

impl Inflater {
    pub fn new(dictionary: &[u8]) -> Self {
        Self { history: dictionary.to_vec(), started: false }
    }

    /// Decodes the next part of the stream (whole blocks, up to a flush).
    pub fn inflate(&mut self, input: &[u8]) -> Result<Vec<u8>, String> {
        let mut input = input;
        if !self.started {
            let [cmf, flg, ..] = *input else { return Err("zlib: no header".into()) };
            if cmf & 0x0f != 8 || (u16::from(cmf) << 8 | u16::from(flg)) % 31 != 0 {
                return Err("zlib: not a deflate stream".into());
            }
            // FDICT: the dictionary's id follows; the dictionary is the one given.
            input = &input[if flg & 0x20 != 0 { 6 } else { 2 }.min(input.len())..];
            self.started = true;
        }
        let start = self.history.len();
        let mut bits = Bits { data: input, position: 0, buffer: 0, count: 0 };
        loop {
            if bits.exhausted() && bits.count < 3 {
                break;
            }
            let last = bits.take(1)? == 1;
            match bits.take(2)? {
                0 => self.stored(&mut bits)?,
                1 => {
                    let mut lengths = [0u8; 288];
                    lengths[..144].fill(8);
                    lengths[144..256].fill(9);
                    lengths[256..280].fill(7);
                    lengths[280..].fill(8);
                    self.codes(&mut bits, &Huffman::new(&lengths), &Huffman::new(&[5u8; 30]))?;
                }
                2 => {
                    let (literals, distances) = dynamic(&mut bits)?;
                    self.codes(&mut bits, &literals, &distances)?;
                }
                _ => return Err("deflate: a block of type 3".into()),
            }
            if last {
                break;
            }
        }
        let out = self.history[start..].to_vec();
        if self.history.len() > 2 * WINDOW {
            self.history.drain(..self.history.len() - WINDOW);
        }
        Ok(out)
    }

    fn stored(&mut self, bits: &mut Bits) -> Result<(), String> {
        bits.align();
        let at = bits.position;
        let header = bits.data.get(at..at + 4).ok_or("deflate: a stored block without its length")?;
        let length = usize::from(u16::from_le_bytes([header[0], header[1]]));
        if u16::from_le_bytes([header[2], header[3]]) != !(length as u16) {
            return Err("deflate: a stored block's length does not check".into());
        }
        let data = bits.data.get(at + 4..at + 4 + length).ok_or("deflate: a stored block is cut short")?;
        self.history.extend_from_slice(data);
        bits.position = at + 4 + length;
        Ok(())
    }

    fn codes(&mut self, bits: &mut Bits, literals: &Huffman, distances: &Huffman) -> Result<(), String> {
        loop {
            let symbol = usize::from(literals.decode(bits)?);
            match symbol {
                0..=255 => self.history.push(symbol as u8),
                256 => return Ok(()),
                _ => {
                    let index = symbol - 257;
                    let (&base, &extra) =
                        LENGTH_BASE.get(index).zip(LENGTH_EXTRA.get(index)).ok_or("deflate: a bad length")?;
                    let length = usize::from(base) + bits.take(u32::from(extra))? as usize;
                    let index = usize::from(distances.decode(bits)?);
                    let (&base, &extra) =
                        DISTANCE_BASE.get(index).zip(DISTANCE_EXTRA.get(index)).ok_or("deflate: a bad distance")?;
                    let distance = usize::from(base) + bits.take(u32::from(extra))? as usize;
                    if distance > self.history.len() {
                        return Err("deflate: a distance before the dictionary".into());
                    }
                    let from = self.history.len() - distance;
                    for i in 0..length {
                        let byte = self.history[from + i];
                        self.history.push(byte);
                    }
                }
            }
        }
    }
}

/// A dynamic block's codes.
fn dynamic(bits: &mut Bits) -> Result<(Huffman, Huffman), String> {
    let literal_count = bits.take(5)? as usize + 257;
    let distance_count = bits.take(5)? as usize + 1;
    let code_count = bits.take(4)? as usize + 4;
    let mut code_lengths = [0u8; 19];
    for &at in CODE_LENGTH_ORDER.iter().take(code_count) {
        code_lengths[at] = bits.take(3)? as u8;
    }
    let lengths_code = Huffman::new(&code_lengths);
    let mut lengths = Vec::with_capacity(literal_count + distance_count);
    while lengths.len() < literal_count + distance_count {
        let symbol = lengths_code.decode(bits)?;
        let (value, repeat) = match symbol {
            0..=15 => (symbol as u8, 1),
            16 => (*lengths.last().ok_or("deflate: a repeat with nothing before")?, 3 + bits.take(2)? as usize),
            17 => (0, 3 + bits.take(3)? as usize),
            _ => (0, 11 + bits.take(7)? as usize),
        };
        lengths.extend(std::iter::repeat_n(value, repeat));
    }
    if lengths.len() > literal_count + distance_count {
        return Err("deflate: too many code lengths".into());
    }
    Ok((Huffman::new(&lengths[..literal_count]), Huffman::new(&lengths[literal_count..])))
}

/// A zlib stream of stored blocks, sync-flushed part by part: what the lab
/// writes (uncompressed) where its peer expects compressed SPDY headers.
#[derive(Debug, Clone, Default)]
pub struct StoredDeflater {
    started: bool,
}

impl StoredDeflater {
    pub fn part(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 8);
        if !self.started {
            // CM 8, a 32K window, no dictionary, FCHECK making it a multiple of 31.
            out.extend_from_slice(&[0x78, 0x01]);
            self.started = true;
        }
        for chunk in data.chunks(u16::MAX as usize) {
            let length = chunk.len() as u16;
            out.push(0);
            out.extend_from_slice(&length.to_le_bytes());
            out.extend_from_slice(&(!length).to_le_bytes());
            out.extend_from_slice(chunk);
        }
        // The sync flush's empty stored block: a reader (Go's) hands the part over only there.
        out.extend_from_slice(&[0x00, 0x00, 0x00, 0xff, 0xff]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_stream_reads_back() {
        let mut writer = StoredDeflater::default();
        let mut reader = Inflater::new(b"dictionary");
        assert_eq!(reader.inflate(&writer.part(b"hello")).ok(), Some(b"hello".to_vec()));
        assert_eq!(reader.inflate(&writer.part(b" world")).ok(), Some(b" world".to_vec()));
    }

    #[test]
    fn compressed_parts_with_a_dictionary_read_back() {
        // python3: c = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, b"streamtypestdinstdouterror");
        // a header block (one pair) per part, each ending in c.flush(zlib.Z_SYNC_FLUSH).
        let first = [
            0x78, 0xf9, 0x97, 0x7e, 0x0b, 0x3e, 0x62, 0x60, 0x60, 0x60, 0x04, 0x62, 0xae, 0x62, 0xb8, 0x0a, 0x20, 0x8f,
            0x15, 0x2c, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff,
        ];
        let second = [0xc2, 0x2e, 0x05, 0x36, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff];
        let mut reader = Inflater::new(b"streamtypestdinstdouterror");
        let pair = |value: &str| {
            let mut block = vec![0, 0, 0, 1, 0, 0, 0, 10];
            block.extend_from_slice(b"streamtype");
            block.extend_from_slice(&(value.len() as u32).to_be_bytes());
            block.extend_from_slice(value.as_bytes());
            block
        };
        assert_eq!(reader.inflate(&first), Ok(pair("error")));
        assert_eq!(reader.inflate(&second), Ok(pair("stdin")));
        let mut plain = Inflater::new(b"");
        let fixed = [0x78, 0x9c, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x06, 0x2c, 0x02, 0x15];
        assert_eq!(plain.inflate(&fixed), Ok(b"hello".to_vec()));
    }

    #[test]
    fn a_dynamic_block_reads_back() {
        // python3: zlib.compress(b" ".join(random.choice(words) for _ in range(120)), 9) with random.seed(7).
        let data = [
            0x78, 0xda, 0x6d, 0x52, 0x5b, 0x0e, 0xc3, 0x30, 0x08, 0xbb, 0x4a, 0xae, 0x96, 0xae, 0x4c, 0xad, 0xd4, 0xc7,
            0x44, 0xa2, 0x9d, 0x7f, 0x23, 0x0f, 0x82, 0x49, 0x7f, 0xfa, 0x00, 0xc7, 0xd8, 0x0e, 0x1c, 0xdf, 0x39, 0xa4,
            0x2b, 0x7e, 0xd2, 0x76, 0xe7, 0xc0, 0xf4, 0xdd, 0xd3, 0x7e, 0x5f, 0x81, 0xf2, 0x6b, 0x0d, 0x27, 0x9d, 0x0b,
            0x71, 0x7f, 0xb1, 0x20, 0x4b, 0x9d, 0x29, 0xe5, 0x9b, 0x09, 0x40, 0x7a, 0x52, 0x3f, 0xb4, 0x51, 0xc1, 0x1e,
            0x87, 0x87, 0x0d, 0x21, 0x22, 0xa0, 0xa5, 0x3a, 0x0f, 0x8a, 0xab, 0x25, 0xd3, 0x46, 0x23, 0x6c, 0x7d, 0x5f,
            0xee, 0x64, 0xc5, 0x0a, 0xba, 0x83, 0x61, 0x47, 0x5c, 0x8c, 0x21, 0x01, 0x4b, 0xa5, 0x54, 0xcb, 0x4f, 0x9f,
            0x5e, 0xd1, 0x26, 0x3d, 0xb0, 0xda, 0x60, 0xe3, 0x98, 0x70, 0xd4, 0x9a, 0x4b, 0x76, 0xb2, 0xc1, 0x70, 0x2b,
            0x20, 0x07, 0x72, 0x13, 0xd8, 0x78, 0x74, 0x91, 0xc8, 0x6e, 0x64, 0x58, 0xaf, 0xa6, 0xec, 0xd3, 0x1c, 0x37,
            0xad, 0xda, 0xa7, 0x80, 0xff, 0x0d, 0x8c, 0xcc, 0x25, 0xae, 0x51, 0x4f, 0x7b, 0x61, 0x84, 0x3c, 0x3b, 0x9c,
            0xa9, 0xb0, 0x81, 0x3a, 0xcd, 0x00, 0x77, 0x1d, 0x7e, 0xc8, 0x83, 0x36, 0xb3, 0x5b, 0x22, 0xc1, 0xef, 0x57,
            0x7b, 0xc1, 0xee, 0xfd, 0x00, 0x5f, 0x4e, 0x33, 0x47,
        ];
        let text =
            Inflater::new(b"").inflate(&data).map(|t| String::from_utf8_lossy(&t).into_owned()).unwrap_or_default();
        assert_eq!(text.len(), 817);
        assert!(text.starts_with("raft snapshot revision etcd member member raft"), "{text}");
        assert!(text.ends_with("snapshot leader leader etcd snapshot"), "{text}");
        let words = ["etcd", "member", "snapshot", "restore", "leader", "raft", "revision", "lab"];
        assert!(text.split(' ').all(|w| words.contains(&w)), "{text}");
    }
}
