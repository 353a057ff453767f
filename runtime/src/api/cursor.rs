//! Listing cursors: opaque to clients, bound to the folder they were issued for. The S3 call is
//! always made with the folder's own prefix, so even a forged cursor cannot widen a listing;
//! binding just turns a replay on another folder into a clear 400.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::http::ApiError;

#[derive(Serialize, Deserialize)]
struct Cursor {
    /// The folder (`s3://bucket/prefix/`).
    p: String,
    /// S3's continuation token.
    t: String,
}

pub fn encode(folder: &str, token: &str) -> String {
    let json = serde_json::to_vec(&Cursor {
        p: folder.to_owned(),
        t: token.to_owned(),
    })
    .unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// The S3 token of a cursor issued for `folder`.
pub fn decode(cursor: &str, folder: &str) -> Result<String, ApiError> {
    let bad = || ApiError::BadRequest("invalid cursor; start the listing again without one".into());
    if cursor.len() > 4096 {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let c: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if c.p != folder {
        return Err(ApiError::BadRequest(
            "this cursor belongs to another folder".into(),
        ));
    }
    Ok(c.t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_only_works_for_its_folder() {
        let c = encode("s3://b/annual/", "tok");
        assert_eq!(decode(&c, "s3://b/annual/").unwrap(), "tok");
        assert_eq!(
            decode(&c, "s3://b/hr/"),
            Err(ApiError::BadRequest(
                "this cursor belongs to another folder".into()
            ))
        );
        assert!(decode("not base64 !", "s3://b/annual/").is_err());
    }
}
