//! The guest ABI shared by zvrun and zrt (RUNTIME.md sections 3 and 4): errno values
//! returned by the six calls and the layout of the read-only user manifest. `zvm.h` in
//! tools/zrt defines the same layout for C; a test in zvrun checks them against each other.

/// Operation not permitted (bad call id, Jail of unverifiable code).
pub const EPERM: i64 = 1;
/// Bad address (unreadable argument array, negative size).
pub const EFAULT: i64 = 14;
/// Invalid argument (bad channel, buffer, offset, Jail/Unjail region).
pub const EINVAL: i64 = 22;
/// Quota exceeded.
pub const EDQUOT: i64 = 122;

/// Size of `struct ZVMChannel`: limits[4], size, type, pad, name.
pub const CHANNEL_SIZE: u64 = 56;
/// Size of `struct UserManifest`: heap_ptr, heap_size, stack_size, channels_count, pad,
/// channels.
pub const USER_MANIFEST_SIZE: u64 = 32;

/// Serialises the user manifest at guest address `at`: the header, the channel array,
/// then the NUL-terminated names. Returns the bytes to copy to `at`.
pub fn user_manifest_bytes(
    at: u64,
    heap_ptr: u64,
    heap_size: u32,
    stack_size: u32,
    channels: &[(i64, i64, i64, i64, i64, u32, &str)],
) -> Vec<u8> {
    let mut out = Vec::new();
    let array = at + USER_MANIFEST_SIZE;
    out.extend_from_slice(&heap_ptr.to_le_bytes());
    out.extend_from_slice(&heap_size.to_le_bytes());
    out.extend_from_slice(&stack_size.to_le_bytes());
    out.extend_from_slice(&(channels.len() as i32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&array.to_le_bytes());
    let mut name_at = array + CHANNEL_SIZE * channels.len() as u64;
    let mut names = Vec::new();
    for &(gets, get_size, puts, put_size, size, kind, name) in channels {
        for v in [gets, get_size, puts, put_size, size] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&name_at.to_le_bytes());
        names.extend_from_slice(name.as_bytes());
        names.push(0);
        name_at += name.len() as u64 + 1;
    }
    out.extend_from_slice(&names);
    out
}
