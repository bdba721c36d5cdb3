//! Audio inspection for acoustic-model resources: media types, durations read from file headers
//! (WAV, FLAC, Ogg, MP3, raw L16/µ-law/A-law, G.729; WebM is estimated), and archives (zip and
//! tar.gz) with one result per member.
//!
//! Durations are measured from the audio present, as IBM measures what it receives
//! (`watson-api.md` §5.3; issue 15, case 1): for WAV the `data` bytes actually in the file, so a
//! header that declares more than the file holds counts as what it holds (a 44-byte file that
//! declares ten minutes is empty, hence invalid). Raw types count their bytes; MP3 and WebM are
//! estimated from the file size; FLAC and Ogg read the stream's own sample count. Archives are
//! measured member by member. See `docs/simulator.md`.

use std::collections::HashMap;
use std::io::Read;

use serde::{Deserialize, Serialize};

use super::state::SimError;

/// Maximum size of one audio resource (bytes).
pub const MAX_AUDIO_BYTES: usize = 100 * 1024 * 1024;
/// Maximum length of an archive member's file name.
pub const MAX_MEMBER_NAME: usize = 128;

/// A parsed `Content-Type` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaType {
    /// Lower-case `type/subtype`.
    pub essence: String,
    /// Lower-case parameter names; values as given.
    pub params: HashMap<String, String>,
}

impl MediaType {
    /// Parses `type/subtype; k=v; ...`.
    pub fn parse(value: &str) -> Self {
        let mut parts = value.split(';');
        let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let params = parts
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                Some((
                    k.trim().to_ascii_lowercase(),
                    v.trim().trim_matches('"').to_owned(),
                ))
            })
            .collect();
        MediaType { essence, params }
    }

    fn rate(&self) -> Option<u32> {
        self.params.get("rate").and_then(|r| r.parse().ok())
    }
}

/// Audio media types accepted for a single-file resource.
pub const AUDIO_TYPES: &[&str] = &[
    "audio/alaw",
    "audio/basic",
    "audio/flac",
    "audio/g729",
    "audio/l16",
    "audio/mp3",
    "audio/mpeg",
    "audio/mulaw",
    "audio/ogg",
    "audio/wav",
    "audio/webm",
];

/// What kind of resource a request adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Container {
    Zip,
    Gzip,
}

impl Container {
    /// The `details.compression` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Container::Zip => "zip",
            Container::Gzip => "gzip",
        }
    }
}

/// Decides the resource kind from the headers; errors are request-level (415/400).
pub fn classify(
    content_type: Option<&str>,
    contained: Option<&str>,
) -> Result<(Option<Container>, Option<MediaType>, MediaType), SimError> {
    let ct = MediaType::parse(content_type.unwrap_or_default());
    let container = match ct.essence.as_str() {
        "application/zip" => Some(Container::Zip),
        "application/gzip" => Some(Container::Gzip),
        e if AUDIO_TYPES.contains(&e) => None,
        _ => {
            return Err(SimError::UnsupportedMediaType(format!(
                "The content type '{}' is not supported for audio resources.",
                content_type.unwrap_or_default()
            )));
        }
    };
    let contained = match (container, contained) {
        (None, Some(_)) => {
            return Err(SimError::BadRequest(
                "The Contained-Content-Type header must not be used with an audio-type resource."
                    .to_owned(),
            ));
        }
        (Some(_), Some(c)) => {
            let m = MediaType::parse(c);
            if !AUDIO_TYPES.contains(&m.essence.as_str()) {
                return Err(SimError::UnsupportedMediaType(format!(
                    "The contained content type '{c}' is not supported."
                )));
            }
            Some(m)
        }
        (_, None) => None,
    };
    for m in std::iter::once(&ct).chain(contained.iter()) {
        if matches!(
            m.essence.as_str(),
            "audio/l16" | "audio/mulaw" | "audio/alaw"
        ) && m.rate().is_none()
        {
            return Err(SimError::BadRequest(format!(
                "The content type '{}' requires a 'rate' parameter.",
                m.essence
            )));
        }
    }
    Ok((container, contained, ct))
}

/// The result of inspecting one audio file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AudioFacts {
    /// File name (archive members) or resource name.
    pub name: String,
    pub duration_s: f64,
    /// `None` when the format could not be determined (`details.type = undetermined`).
    pub codec: Option<String>,
    pub frequency: Option<u32>,
    pub valid: bool,
    /// Why it is invalid (kept for diagnostics).
    pub reason: Option<String>,
}

impl AudioFacts {
    fn undetermined(name: &str, reason: &str) -> Self {
        AudioFacts {
            name: name.to_owned(),
            duration_s: 0.0,
            codec: None,
            frequency: None,
            valid: false,
            reason: Some(reason.to_owned()),
        }
    }
}

/// Inspects one audio file of the given media type. `min_rate` is the base model's rate.
pub fn inspect(name: &str, media: Option<&MediaType>, bytes: &[u8], min_rate: u32) -> AudioFacts {
    let essence = media
        .map(|m| m.essence.clone())
        .unwrap_or_else(|| sniff(bytes).to_owned());
    let parsed = match essence.as_str() {
        "audio/wav" => parse_wav(bytes),
        "audio/flac" => parse_flac(bytes),
        "audio/ogg" => parse_ogg(bytes),
        "audio/mp3" | "audio/mpeg" => parse_mp3(bytes),
        "audio/webm" => parse_webm(bytes),
        "audio/l16" | "audio/mulaw" | "audio/alaw" | "audio/basic" | "audio/g729" => {
            raw(&essence, media, bytes)
        }
        _ => Err("the audio format could not be determined".to_owned()),
    };
    match parsed {
        Err(reason) => AudioFacts::undetermined(name, &reason),
        Ok((duration_s, codec, frequency, channels)) => {
            let reason = if frequency < min_rate {
                Some(format!(
                    "the sampling rate {frequency} Hz is below the base model's minimum of {min_rate} Hz"
                ))
            } else if channels > 9 {
                Some(format!("{channels} channels; at most 9 are supported"))
            } else if duration_s <= 0.0 {
                Some("the audio contains no samples".to_owned())
            } else {
                None
            };
            AudioFacts {
                name: name.to_owned(),
                duration_s,
                codec: Some(codec),
                frequency: Some(frequency),
                valid: reason.is_none(),
                reason,
            }
        }
    }
}

/// Reads one archive member, at most `left` bytes (what the archive may still unpack to);
/// `left` goes down by what was read. A member that would pass it is an error, read no further:
/// a small archive must not unpack to gigabytes in the simulator's memory (a zip bomb).
fn read_member(member: &mut impl Read, left: &mut usize, limit: usize) -> Result<Vec<u8>, String> {
    let mut data = Vec::new();
    member
        .take(*left as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| e.to_string())?;
    if data.len() > *left {
        return Err(format!("the archive unpacks to more than {limit} bytes"));
    }
    *left -= data.len();
    Ok(data)
}

/// Inspects every member of an archive. `Err` when the archive itself cannot be read or unpacks
/// to more than [`MAX_AUDIO_BYTES`] in all.
pub fn inspect_archive(
    container: Container,
    contained: Option<&MediaType>,
    bytes: &[u8],
    min_rate: u32,
) -> Result<Vec<AudioFacts>, String> {
    inspect_archive_within(container, contained, bytes, min_rate, MAX_AUDIO_BYTES)
}

/// [`inspect_archive`] with `limit` for the bytes the archive may unpack to.
fn inspect_archive_within(
    container: Container,
    contained: Option<&MediaType>,
    bytes: &[u8],
    min_rate: u32,
    limit: usize,
) -> Result<Vec<AudioFacts>, String> {
    let mut out = Vec::new();
    let mut left = limit;
    let mut visit = |name: String, data: Vec<u8>| {
        let mut facts = inspect(&name, contained, &data, min_rate);
        if name.chars().count() > MAX_MEMBER_NAME {
            facts.valid = false;
            facts.reason = Some("member file name longer than 128 characters".to_owned());
        }
        out.push(facts);
    };
    match container {
        Container::Zip => {
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
                .map_err(|e| format!("not a readable zip archive: {e}"))?;
            for i in 0..zip.len() {
                let mut f = zip
                    .by_index(i)
                    .map_err(|e| format!("unreadable zip member: {e}"))?;
                if f.is_dir() {
                    continue;
                }
                let name = f.name().to_owned();
                let data = read_member(&mut f, &mut left, limit)
                    .map_err(|e| format!("unreadable zip member {name}: {e}"))?;
                visit(name, data);
            }
        }
        Container::Gzip => {
            let gz = flate2::read::GzDecoder::new(bytes);
            let mut tar = tar::Archive::new(gz);
            let entries = tar
                .entries()
                .map_err(|e| format!("not a readable tar.gz archive: {e}"))?;
            for entry in entries {
                let mut entry = entry.map_err(|e| format!("unreadable tar member: {e}"))?;
                if !entry.header().entry_type().is_file() {
                    continue;
                }
                let name = entry
                    .path()
                    .map(|p| p.to_string_lossy().into_owned())
                    .map_err(|e| format!("bad tar member name: {e}"))?;
                let data = read_member(&mut entry, &mut left, limit)
                    .map_err(|e| format!("unreadable tar member {name}: {e}"))?;
                visit(name, data);
            }
        }
    }
    if out.is_empty() {
        return Err("the archive contains no audio files".to_owned());
    }
    Ok(out)
}

/// Guesses a media type from magic bytes.
pub fn sniff(b: &[u8]) -> &'static str {
    if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WAVE" {
        "audio/wav"
    } else if b.starts_with(b"fLaC") {
        "audio/flac"
    } else if b.starts_with(b"OggS") {
        "audio/ogg"
    } else if b.starts_with(b"ID3") || (b.len() >= 2 && b[0] == 0xFF && b[1] & 0xE0 == 0xE0) {
        "audio/mpeg"
    } else if b.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        "audio/webm"
    } else {
        "application/octet-stream"
    }
}

/// `(duration seconds, codec, frequency, channels)`.
type Parsed = Result<(f64, String, u32, u32), String>;

fn u16le(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn parse_wav(b: &[u8]) -> Parsed {
    if b.len() < 12 || &b[0..4] != b"RIFF" || &b[8..12] != b"WAVE" {
        return Err("not a RIFF/WAVE file".to_owned());
    }
    let mut pos = 12usize;
    let mut fmt: Option<(u16, u16, u32, u32, u16)> = None;
    while pos + 8 <= b.len() {
        let id = &b[pos..pos + 4];
        let size = u32le(b, pos + 4).ok_or("truncated chunk header")? as usize;
        let body = pos + 8;
        if id == b"fmt " {
            let mut format = u16le(b, body).ok_or("truncated fmt chunk")?;
            let channels = u16le(b, body + 2).ok_or("truncated fmt chunk")?;
            let rate = u32le(b, body + 4).ok_or("truncated fmt chunk")?;
            let byte_rate = u32le(b, body + 8).ok_or("truncated fmt chunk")?;
            let bits = u16le(b, body + 14).ok_or("truncated fmt chunk")?;
            if format == 0xFFFE {
                // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with the format code.
                format = u16le(b, body + 24).unwrap_or(format);
            }
            fmt = Some((format, channels, rate, byte_rate, bits));
        } else if id == b"data" {
            let (format, channels, rate, byte_rate, bits) =
                fmt.ok_or("data chunk before fmt chunk")?;
            if byte_rate == 0 || rate == 0 || channels == 0 {
                return Err("invalid fmt chunk".to_owned());
            }
            let codec = match (format, bits) {
                (1, 8) => "pcm_u8",
                (1, 16) => "pcm_s16le",
                (1, 24) => "pcm_s24le",
                (1, 32) => "pcm_s32le",
                (3, _) => "pcm_f32le",
                (6, _) => "pcm_alaw",
                (7, _) => "pcm_mulaw",
                _ => return Err(format!("unsupported WAV format {format}/{bits} bits")),
            };
            // Measured: only the bytes present count, whatever the header declares.
            let present = b.len().saturating_sub(body).min(size);
            let duration = present as f64 / f64::from(byte_rate);
            return Ok((duration, codec.to_owned(), rate, u32::from(channels)));
        }
        pos = body.saturating_add(size).saturating_add(size & 1);
    }
    Err("no data chunk".to_owned())
}

fn parse_flac(b: &[u8]) -> Parsed {
    if !b.starts_with(b"fLaC") || b.len() < 8 + 18 || b[4] & 0x7F != 0 {
        return Err("not a FLAC file with STREAMINFO".to_owned());
    }
    let s = &b[8..];
    let x = u64::from_be_bytes(s[10..18].try_into().map_err(|_| "truncated STREAMINFO")?);
    let rate = (x >> 44) as u32;
    let channels = ((x >> 41) & 7) as u32 + 1;
    let total = x & 0xF_FFFF_FFFF;
    if rate == 0 {
        return Err("FLAC sample rate 0".to_owned());
    }
    Ok((
        total as f64 / f64::from(rate),
        "flac".to_owned(),
        rate,
        channels,
    ))
}

fn parse_ogg(b: &[u8]) -> Parsed {
    if !b.starts_with(b"OggS") || b.len() < 28 {
        return Err("not an Ogg file".to_owned());
    }
    let segments = usize::from(b[26]);
    let payload = b.get(27 + segments..).ok_or("truncated Ogg page")?;
    let (codec, rate, channels, granule_rate) = if payload.starts_with(b"OpusHead") {
        let rate = u32le(payload, 12).ok_or("truncated OpusHead")?;
        (
            "opus",
            if rate == 0 { 48000 } else { rate },
            u32::from(payload.get(9).copied().unwrap_or(1)),
            48000,
        )
    } else if payload.starts_with(b"\x01vorbis") {
        let rate = u32le(payload, 12).ok_or("truncated Vorbis header")?;
        (
            "vorbis",
            rate,
            u32::from(payload.get(11).copied().unwrap_or(1)),
            rate,
        )
    } else {
        return Err("unknown Ogg codec".to_owned());
    };
    let last = b
        .windows(4)
        .rposition(|w| w == b"OggS")
        .ok_or("no Ogg page")?;
    let granule = b
        .get(last + 6..last + 14)
        .and_then(|g| g.try_into().ok())
        .map(u64::from_le_bytes)
        .ok_or("truncated Ogg page")?;
    if granule_rate == 0 {
        return Err("Ogg sample rate 0".to_owned());
    }
    Ok((
        granule as f64 / f64::from(granule_rate),
        codec.to_owned(),
        rate,
        channels,
    ))
}

fn parse_mp3(b: &[u8]) -> Parsed {
    let mut pos = 0usize;
    if b.starts_with(b"ID3") && b.len() >= 10 {
        let size = b[6..10]
            .iter()
            .fold(0usize, |acc, x| (acc << 7) | usize::from(x & 0x7F));
        pos = 10 + size;
    }
    let h = b.get(pos..pos + 4).ok_or("no MPEG frame")?;
    if h[0] != 0xFF || h[1] & 0xE0 != 0xE0 {
        return Err("no MPEG frame sync".to_owned());
    }
    let version = (h[1] >> 3) & 3; // 3 = MPEG1, 2 = MPEG2, 0 = MPEG2.5
    let bitrate_idx = usize::from(h[2] >> 4);
    let rate_idx = usize::from((h[2] >> 2) & 3);
    const BR1: [u32; 15] = [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ];
    const BR2: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
    let rates: [u32; 3] = match version {
        3 => [44100, 48000, 32000],
        2 => [22050, 24000, 16000],
        0 => [11025, 12000, 8000],
        _ => return Err("reserved MPEG version".to_owned()),
    };
    let kbps = if version == 3 {
        BR1.get(bitrate_idx)
    } else {
        BR2.get(bitrate_idx)
    }
    .copied()
    .filter(|k| *k > 0)
    .ok_or("unsupported MPEG bitrate")?;
    let rate = *rates.get(rate_idx).ok_or("reserved MPEG sample rate")?;
    let channels = if h[3] >> 6 == 3 { 1 } else { 2 };
    let duration = (b.len() - pos) as f64 * 8.0 / (f64::from(kbps) * 1000.0);
    Ok((duration, "mp3".to_owned(), rate, channels))
}

fn parse_webm(b: &[u8]) -> Parsed {
    if !b.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Err("not a WebM file".to_owned());
    }
    // Estimated: Opus at 32 kbit/s, 48 kHz (documented simplification).
    Ok((b.len() as f64 * 8.0 / 32_000.0, "opus".to_owned(), 48000, 1))
}

fn raw(essence: &str, media: Option<&MediaType>, b: &[u8]) -> Parsed {
    let rate = media.and_then(MediaType::rate);
    let channels: u32 = media
        .and_then(|m| m.params.get("channels"))
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let n = b.len() as f64;
    let (bytes_per_second, codec, freq) = match essence {
        "audio/l16" => {
            let r = rate.ok_or("missing rate")?;
            let le = media
                .and_then(|m| m.params.get("endianness"))
                .is_some_and(|e| e.eq_ignore_ascii_case("little-endian"));
            (
                2.0 * f64::from(r) * f64::from(channels),
                if le { "pcm_s16le" } else { "pcm_s16be" },
                r,
            )
        }
        "audio/mulaw" => {
            let r = rate.ok_or("missing rate")?;
            (f64::from(r) * f64::from(channels), "pcm_mulaw", r)
        }
        "audio/alaw" => {
            let r = rate.ok_or("missing rate")?;
            (f64::from(r) * f64::from(channels), "pcm_alaw", r)
        }
        "audio/basic" => (8000.0, "pcm_mulaw", 8000),
        "audio/g729" => (1000.0, "g729", 8000),
        _ => return Err("unsupported raw format".to_owned()),
    };
    if bytes_per_second <= 0.0 {
        return Err("invalid rate".to_owned());
    }
    Ok((n / bytes_per_second, codec.to_owned(), freq, channels))
}

/// Builds a PCM WAV header (and optional data) — used by tests and documentation examples.
pub fn wav_bytes(
    rate: u32,
    channels: u16,
    bits: u16,
    declared_seconds: f64,
    actual_data: &[u8],
) -> Vec<u8> {
    let byte_rate = rate * u32::from(channels) * u32::from(bits) / 8;
    let data_len = (declared_seconds * f64::from(byte_rate)) as u32;
    let mut v = Vec::with_capacity(44 + actual_data.len());
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36u32.saturating_add(data_len)).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&byte_rate.to_le_bytes());
    v.extend_from_slice(&(channels * bits / 8).to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    v.extend_from_slice(actual_data);
    v
}

/// `seconds` of a real 16-bit mono PCM WAV at `rate` holding a 400 Hz tone (a periodic signal,
/// so it compresses about a thousandfold: see [`tone_tar_gz`]). For tests, benchmarks and the
/// demo's honest acoustic audio.
pub fn tone_wav(rate: u32, seconds: f64) -> Vec<u8> {
    // One period of the tone, repeated: rate / 400 samples when that divides evenly.
    let period: Vec<u8> = {
        let n = (rate / 400).max(1);
        (0..n)
            .flat_map(|i| {
                let x = f64::from(i) / f64::from(n) * std::f64::consts::TAU;
                ((x.sin() * 6000.0) as i16).to_le_bytes()
            })
            .collect()
    };
    let samples = (seconds * f64::from(rate)).max(0.0) as usize;
    let data: Vec<u8> = period.iter().copied().cycle().take(samples * 2).collect();
    let mut v = wav_bytes(rate, 1, 16, 0.0, &[]);
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    v[4..8].copy_from_slice(&36u32.saturating_add(len).to_le_bytes());
    v[40..44].copy_from_slice(&len.to_le_bytes());
    v.extend_from_slice(&data);
    v
}

/// A gzip-compressed tar archive (`application/gzip`) with one member `name` holding
/// [`tone_wav`]`(rate, seconds)`: ten minutes at 16 kHz (19.2 MB of PCM) take about 20 KB, small
/// enough for a ConfigMap.
pub fn tone_tar_gz(name: &str, rate: u32, seconds: f64) -> Vec<u8> {
    let wav = tone_wav(rate, seconds);
    let mut out = Vec::new();
    {
        let gz = flate2::write::GzEncoder::new(&mut out, flate2::Compression::best());
        let mut t = tar::Builder::new(gz);
        let mut h = tar::Header::new_gnu();
        h.set_size(wav.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        // Writing to memory cannot fail.
        let _ = t.append_data(&mut h, name, wav.as_slice());
        if let Ok(gz) = t.into_inner() {
            let _ = gz.finish();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn archives_unpack_to_at_most_the_limit() {
        let archive = tone_tar_gz("a.wav", 16_000, 1.0); // 32 KB of PCM in a few hundred bytes
        let facts = inspect_archive_within(Container::Gzip, None, &archive, 8_000, 40_000)
            .expect("within the limit");
        assert_eq!(facts.len(), 1);
        let err = inspect_archive_within(Container::Gzip, None, &archive, 8_000, 10_000)
            .expect_err("past the limit");
        assert!(err.contains("unpacks to more than 10000 bytes"), "{err}");
    }

    #[test]
    fn wav_duration_is_measured_not_declared() {
        let w = tone_wav(16000, 2.5);
        let f = inspect("a.wav", Some(&MediaType::parse("audio/wav")), &w, 16000);
        assert!(f.valid, "{f:?}");
        assert_eq!(f.duration_s, 2.5);
        assert_eq!(f.codec.as_deref(), Some("pcm_s16le"));
        assert_eq!(f.frequency, Some(16000));
        // A header declaring ten minutes over 0.1 s of samples counts 0.1 s.
        let w = wav_bytes(16000, 1, 16, 600.0, &[0; 3200]);
        let f = inspect("a.wav", None, &w, 16000);
        assert!(f.valid, "{f:?}");
        assert_eq!(f.duration_s, 0.1);
        // ... and over no samples at all it is invalid.
        let f = inspect("a.wav", None, &wav_bytes(16000, 1, 16, 600.0, &[]), 16000);
        assert!(!f.valid);
    }

    #[test]
    fn ten_minutes_of_tone_fit_a_config_map() {
        let tgz = tone_tar_gz("tone.wav", 16000, 660.0);
        assert!(tgz.len() < 100_000, "{} bytes", tgz.len());
        let members = inspect_archive(Container::Gzip, None, &tgz, 16000).expect("tgz");
        assert_eq!(members.len(), 1);
        assert!(members[0].valid);
        assert_eq!(members[0].duration_s, 660.0);
    }

    #[test]
    fn low_sample_rate_is_invalid() {
        let w = tone_wav(8000, 10.0);
        let f = inspect("a.wav", None, &w, 16000);
        assert!(!f.valid);
        assert_eq!(f.frequency, Some(8000));
    }

    #[test]
    fn garbage_is_undetermined() {
        let f = inspect(
            "x",
            Some(&MediaType::parse("audio/wav")),
            b"\xFF\xD8\xFF\xE0JFIF",
            8000,
        );
        assert!(!f.valid);
        assert!(f.codec.is_none());
    }

    #[test]
    fn raw_types_need_rate() {
        assert!(classify(Some("audio/l16"), None).is_err());
        assert!(classify(Some("audio/l16;rate=16000"), None).is_ok());
        assert_eq!(
            classify(Some("text/plain"), None).map_err(|e| e.status()),
            Err(415)
        );
        assert_eq!(
            classify(Some("audio/wav"), Some("audio/wav")).map_err(|e| e.status()),
            Err(400)
        );
        let m = MediaType::parse("audio/l16; rate=16000");
        let f = inspect("r", Some(&m), &[0; 32000], 16000);
        assert_eq!(f.duration_s, 1.0);
    }

    #[test]
    fn zip_and_tgz_archives_report_members_and_one_bad_member_invalidates() {
        let good = tone_wav(16000, 3.0);
        let bad = tone_wav(8000, 3.0);
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default();
            z.start_file("a.wav", opts).expect("zip");
            z.write_all(&good).expect("zip");
            z.start_file("b.wav", opts).expect("zip");
            z.write_all(&bad).expect("zip");
            z.finish().expect("zip");
        }
        let members = inspect_archive(Container::Zip, None, buf.get_ref(), 16000).expect("zip");
        assert_eq!(members.len(), 2);
        assert!(members[0].valid && !members[1].valid);

        let mut tar_bytes = Vec::new();
        {
            let gz = flate2::write::GzEncoder::new(&mut tar_bytes, flate2::Compression::fast());
            let mut t = tar::Builder::new(gz);
            let mut h = tar::Header::new_gnu();
            h.set_size(good.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            t.append_data(&mut h, "x/a.wav", good.as_slice())
                .expect("tar");
            t.into_inner().expect("tar").finish().expect("gz");
        }
        let members = inspect_archive(Container::Gzip, None, &tar_bytes, 16000).expect("tgz");
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].name, "x/a.wav");
        assert!(inspect_archive(Container::Zip, None, b"not a zip", 16000).is_err());
    }
}
