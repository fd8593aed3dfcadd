//! Rebuilds the release binary when the embedded holder wallet
//! (`wallet/dist`, made by `scripts/build-web`) changes or first appears.
fn main() {
    webassets::rerun_if_changed("../wallet/dist");
}
