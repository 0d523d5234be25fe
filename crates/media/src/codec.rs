//! What the SFU reads of a video packet: only whether it starts a keyframe, from the RTP payload
//! descriptor and the few codec header bytes that end-to-end encryption leaves in the clear
//! (VC-ENC-2: the frame itself is ciphertext to the server). Every read is bounds-checked; a
//! short or malformed payload is simply "not a keyframe".

/// Whether a VP8 RTP payload (RFC 7741) is the first packet of a keyframe.
pub fn vp8_keyframe_start(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let extended = first & 0x80 != 0;
    let start = first & 0x10 != 0;
    let partition = first & 0x07;
    if !start || partition != 0 {
        return false;
    }
    let mut i = 1;
    if extended {
        let Some(&x) = payload.get(i) else {
            return false;
        };
        i += 1;
        if x & 0x80 != 0 {
            // Picture id: one byte, or two when its M bit is set.
            let Some(&pid) = payload.get(i) else {
                return false;
            };
            i += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            i += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            i += 1; // TID/Y/KEYIDX
        }
    }
    // The VP8 frame tag: bit 0 (P) is 0 for a keyframe.
    payload.get(i).is_some_and(|b| b & 0x01 == 0)
}

/// The VP8 payload descriptor's picture id (15-bit or 7-bit) and TL0PICIDX, which the SFU
/// rewrites so that a receiver sees one continuous picture numbering across simulcast layers.
pub fn vp8_picture_ids(payload: &[u8]) -> (Option<u16>, Option<u8>) {
    let Some(&first) = payload.first() else {
        return (None, None);
    };
    if first & 0x80 == 0 {
        return (None, None);
    }
    let Some(&x) = payload.get(1) else {
        return (None, None);
    };
    let mut i = 2;
    let mut pid = None;
    if x & 0x80 != 0 {
        let Some(&b) = payload.get(i) else {
            return (None, None);
        };
        if b & 0x80 != 0 {
            let Some(&c) = payload.get(i + 1) else {
                return (None, None);
            };
            pid = Some((u16::from(b & 0x7f) << 8) | u16::from(c));
            i += 2;
        } else {
            pid = Some(u16::from(b));
            i += 1;
        }
    }
    let tl0 = if x & 0x40 != 0 {
        payload.get(i).copied()
    } else {
        None
    };
    (pid, tl0)
}

/// Whether an H.264 RTP payload (RFC 6184) starts a keyframe: an IDR slice or a parameter set,
/// alone, in a STAP-A, or at the start of an FU-A.
pub fn h264_keyframe_start(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let key = |t: u8| matches!(t, 5 | 7 | 8);
    match first & 0x1f {
        24 => {
            // STAP-A: 16-bit sizes, each followed by a NAL unit.
            let mut i = 1;
            while i + 2 < payload.len() {
                let size = usize::from(u16::from_be_bytes([payload[i], payload[i + 1]]));
                if let Some(&nal) = payload.get(i + 2) {
                    if key(nal & 0x1f) {
                        return true;
                    }
                }
                i += 2 + size;
            }
            false
        }
        28 => payload
            .get(1)
            .is_some_and(|fu| fu & 0x80 != 0 && key(fu & 0x1f)),
        t => key(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vp8_keyframes_are_found_past_the_descriptor() {
        // S=1, partition 0, no extension; frame tag P=0.
        assert!(vp8_keyframe_start(&[0x10, 0x00, 0x9d]));
        // P=1: a delta frame.
        assert!(!vp8_keyframe_start(&[0x10, 0x01]));
        // Not the start of a partition.
        assert!(!vp8_keyframe_start(&[0x00, 0x00]));
        // Extended with a 15-bit picture id and TL0PICIDX.
        assert!(vp8_keyframe_start(&[0x90, 0xc0, 0x81, 0x23, 0x05, 0x50]));
        assert!(!vp8_keyframe_start(&[0x90, 0xc0, 0x81, 0x23, 0x05, 0x51]));
        // Truncated: never a keyframe, never a panic.
        assert!(!vp8_keyframe_start(&[0x90, 0xc0, 0x81]));
        assert!(!vp8_keyframe_start(&[]));
    }

    #[test]
    fn vp8_picture_ids_are_read_in_both_widths() {
        assert_eq!(
            vp8_picture_ids(&[0x90, 0xc0, 0x81, 0x23, 0x05, 0x50]),
            (Some(0x123), Some(5))
        );
        assert_eq!(
            vp8_picture_ids(&[0x90, 0x80, 0x11, 0x50]),
            (Some(0x11), None)
        );
        assert_eq!(vp8_picture_ids(&[0x10, 0x00]), (None, None));
        assert_eq!(vp8_picture_ids(&[0x90, 0xc0, 0x81]), (None, None));
    }

    #[test]
    fn h264_keyframes_alone_aggregated_and_fragmented() {
        assert!(h264_keyframe_start(&[0x65, 0x88]));
        assert!(h264_keyframe_start(&[0x67, 0x42]));
        assert!(!h264_keyframe_start(&[0x41, 0x9a]));
        assert!(h264_keyframe_start(&[0x18, 0x00, 0x02, 0x67, 0x42]));
        assert!(!h264_keyframe_start(&[0x18, 0x00, 0x02, 0x41, 0x42]));
        assert!(h264_keyframe_start(&[0x7c, 0x85]));
        assert!(!h264_keyframe_start(&[0x7c, 0x05]));
        assert!(!h264_keyframe_start(&[0x7c]));
    }

    proptest::proptest! {
        #[test]
        fn any_payload_is_read_without_panic(p in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = vp8_keyframe_start(&p);
            let _ = h264_keyframe_start(&p);
            let _ = vp8_picture_ids(&p);
        }
    }
}
