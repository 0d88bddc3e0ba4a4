//! The player above the report on the preview page: Shaka Player (embedded at build
//! time, see `build.rs`) playing the MPD, or `master.m3u8`, with controls to force a
//! Representation and to seek.

/// Shaka Player's compiled file and its licence, when the build had them.
#[cfg(shaka_player)]
pub const SHAKA: Option<(&[u8], &str)> = Some((
    include_bytes!(env!("DASHPACK_SHAKA_JS")),
    include_str!(env!("DASHPACK_SHAKA_LICENSE")),
));
#[cfg(not(shaka_player))]
pub const SHAKA: Option<(&[u8], &str)> = None;

pub const SHAKA_VERSION: &str = "5.2.12";

/// The player section; `config` is JSON: `{mpd, hls, clearKeys}`.
pub fn player(config: &serde_json::Value) -> String {
    if SHAKA.is_none() {
        return "<section id=\"player\"><p class=\"warning\" id=\"player-error\">This dashpack was \
                built without its player (npm was not available at build time); the report \
                below is complete.</p></section>"
            .to_string();
    }
    // `</` cannot end the script element from inside the JSON.
    let config = config.to_string().replace("</", "<\\/");
    PLAYER
        .replace("{{CONFIG}}", &config)
        .replace("{{VERSION}}", SHAKA_VERSION)
}

const PLAYER: &str = r#"<section id="player">
<style>
#player video{width:100%;max-width:960px;background:#000}
#controls{margin:.5em 0;display:flex;gap:1em;flex-wrap:wrap;align-items:center}
#player-error{color:#a40000;white-space:pre-wrap}
</style>
<video id="video" controls muted playsinline></video>
<div id="controls">
<label>Source <select id="source"></select></label>
<label>Representation <select id="rep"><option value="auto">auto (ABR)</option></select></label>
<label>Seek to <input id="seek-to" type="number" min="0" step="0.1" value="0" style="width:6em"> s</label>
<button id="seek">Seek</button>
<span>Playing: <b id="current">nothing yet</b></span>
</div>
<div id="player-error"></div>
<p><small>Shaka Player {{VERSION}} (<a href="/_dashpack/shaka-player.LICENSE">Apache License 2.0</a>)</small></p>
</section>
<script src="/_dashpack/shaka-player.js"></script>
<script>
(async () => {
  const config = {{CONFIG}};
  const video = document.getElementById('video');
  const source = document.getElementById('source');
  const rep = document.getElementById('rep');
  const current = document.getElementById('current');
  const errors = document.getElementById('player-error');
  const fail = (what) => { errors.textContent += what + '\n'; };
  for (const [kind, url] of [['dash', config.mpd], ['hls', config.hls]]) {
    if (!url) continue;
    const o = document.createElement('option');
    o.value = kind; o.textContent = (kind === 'dash' ? 'DASH ' : 'HLS ') + url;
    source.appendChild(o);
  }
  shaka.polyfill.installAll();
  if (!shaka.Player.isBrowserSupported()) { fail('this browser cannot run Shaka Player'); return; }
  const player = new shaka.Player();
  await player.attach(video);
  window.dashpackPlayer = player;
  if (Object.keys(config.clearKeys).length) player.configure({ drm: { clearKeys: config.clearKeys } });
  player.addEventListener('error', (e) => fail(`Shaka error ${e.detail.code}: ${JSON.stringify(e.detail.data)}`));
  const label = (t) => [t.originalVideoId && `${t.originalVideoId} ${t.width}x${t.height}`,
    t.originalAudioId, `${Math.round(t.bandwidth / 1000)} kbit/s`].filter(Boolean).join(' · ');
  const show = () => {
    const t = player.getVariantTracks().find((t) => t.active);
    current.textContent = t ? `${label(t)} · picture ${video.videoWidth}x${video.videoHeight} · ${video.currentTime.toFixed(2)} s` : 'nothing';
    current.dataset.video = t?.originalVideoId ?? '';
    current.dataset.audio = t?.originalAudioId ?? '';
  };
  const fillReps = () => {
    rep.length = 1;
    for (const t of player.getVariantTracks()) {
      const o = document.createElement('option');
      o.value = String(t.id); o.textContent = label(t);
      o.dataset.video = t.originalVideoId ?? ''; o.dataset.audio = t.originalAudioId ?? '';
      rep.appendChild(o);
    }
    rep.value = 'auto';
  };
  const load = async () => {
    errors.textContent = '';
    try {
      await player.load(source.value === 'hls' ? config.hls : config.mpd);
    } catch (e) { fail(`Shaka load error ${e.code}: ${JSON.stringify(e.data)}`); return; }
    player.configure({ abr: { enabled: true } });
    fillReps(); show();
  };
  source.addEventListener('change', load);
  rep.addEventListener('change', () => {
    if (rep.value === 'auto') { player.configure({ abr: { enabled: true } }); return; }
    const t = player.getVariantTracks().find((t) => String(t.id) === rep.value);
    player.configure({ abr: { enabled: false } });
    if (t) player.selectVariantTrack(t, true);
    show();
  });
  document.getElementById('seek').addEventListener('click', () => {
    video.currentTime = Number(document.getElementById('seek-to').value) || 0;
  });
  for (const ev of ['adaptation', 'variantchanged', 'trackschanged']) player.addEventListener(ev, show);
  for (const ev of ['timeupdate', 'resize', 'loadedmetadata']) video.addEventListener(ev, show);
  await load();
  window.dashpackReady = true;
})();
</script>
"#;
