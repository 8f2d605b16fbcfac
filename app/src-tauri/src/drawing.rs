//! How WebKitGTK draws the window on a machine without a GPU.
//!
//! WebKitGTK composites pages with OpenGL. Without a GPU render node (a VM, a remote desktop,
//! CI under Xvfb) that GL is Mesa's software rasteriser, and every frame costs more than
//! WebKit's own non-composited drawing on the CPU: on the 2-core test VM the explorer's
//! keystroke-to-results-painted p95 was 95 ms with compositing and 43 ms without (the
//! latency test prints both). So the app turns compositing off there. A user who set
//! `WEBKIT_DISABLE_COMPOSITING_MODE` themselves (`0` keeps compositing) is left alone.

/// The variable WebKitGTK reads; any value but `0` turns compositing off.
const DISABLE_COMPOSITING: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

/// True when the machine has a GPU render node (`/dev/dri/renderD*`) for WebKit's GL.
pub fn gpu_render_node() -> bool {
    std::fs::read_dir("/dev/dri").is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    })
}

/// Turns WebKit's compositing off when there is no GPU to do it, unless the user chose.
/// Sets an environment variable: call it first thing in `main`, before any thread starts.
pub fn draw_on_cpu_without_gpu() {
    if cfg!(target_os = "linux")
        && std::env::var_os(DISABLE_COMPOSITING).is_none()
        && !gpu_render_node()
    {
        std::env::set_var(DISABLE_COMPOSITING, "1");
    }
}
