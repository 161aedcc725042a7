// The console's one stylesheet and its little script, served from the binary. The script does
// only what HTML cannot: an upload that streams the chosen file with a progress bar, a confirm
// before a delete, and a page that refreshes its figures while nothing is being typed.
enum ConsoleAssets {
    static let css = """
        :root { --fg: #1d232a; --muted: #5b6570; --bg: #f6f7f9; --card: #fff; --line: #d8dde3; --accent: #1f5fbf;
          --used: #1f5fbf; --reserved: #e0a100; --free: #cfd8e3; --bad: #b3261e; --ok: #1e7b34; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
        header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; padding: .6rem 1rem; background: #14202e; color: #fff; }
        header a { color: #fff; }
        .brand { font-weight: 700; text-decoration: none; margin-right: .5rem; }
        nav { display: flex; flex-wrap: wrap; gap: .25rem .9rem; flex: 1; }
        nav a { text-decoration: none; padding: .15rem 0; border-bottom: 2px solid transparent; }
        nav a[aria-current="page"] { border-bottom-color: #8fb8ff; }
        .logout { display: flex; align-items: center; gap: .5rem; margin: 0; }
        .who { color: #c9d3de; font-size: .9em; }
        main { max-width: 1100px; margin: 0 auto; padding: 1rem; }
        h1 { font-size: 1.4rem; margin: .3rem 0 1rem; }
        h2 { font-size: 1.1rem; margin: 0 0 .6rem; }
        .card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 1rem; margin: 0 0 1rem; }
        .scroll { overflow-x: auto; margin-bottom: 1rem; position: relative; }
        table { border-collapse: collapse; width: 100%; background: var(--card); }
        th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { font-weight: 600; background: #eef1f5; }
        td.key { word-break: break-all; }
        small, .hint, .legend { color: var(--muted); }
        label { display: block; margin: .4rem 0; }
        fieldset label { display: inline-block; margin-right: 1rem; }
        input[type=text], input[type=password], input[type=number], select { font: inherit; padding: .35rem .45rem; border: 1px solid var(--line); border-radius: 4px; max-width: 100%; }
        .card input[type=text], .card input[type=password] { width: 22rem; }
        button, .button { font: inherit; padding: .35rem .8rem; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 4px; cursor: pointer; text-decoration: none; display: inline-block; }
        button.danger { background: #fff; color: var(--bad); border-color: var(--bad); }
        header button { background: transparent; border-color: #8fa3b8; }
        :focus-visible { outline: 3px solid #ffb000; outline-offset: 2px; }
        form.inline { display: inline-flex; flex-wrap: wrap; gap: .3rem; align-items: center; margin: .1rem .3rem .1rem 0; }
        form.inline label { display: inline; margin: 0; }
        .sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
        .flash { padding: .6rem .8rem; border-radius: 4px; background: #e3f1e6; border: 1px solid #a9d3b3; }
        .flash.error { background: #fbe9e7; border-color: #e4a59f; }
        .alert { color: var(--bad); font-weight: 600; }
        .state { padding: .05rem .45rem; border-radius: 3px; background: #e7ecf2; }
        .state.active { background: #e3f1e6; color: var(--ok); }
        .state.failed { background: #fbe9e7; color: var(--bad); }
        .state.draining, .state.readonly { background: #fff3d6; color: #7a5200; }
        .bar { width: 100%; height: 24px; display: block; border-radius: 4px; background: var(--free); }
        rect.used, .swatch.used { fill: var(--used); background: var(--used); }
        rect.reserved, .swatch.reserved { fill: var(--reserved); background: var(--reserved); }
        rect.free, .swatch.free { fill: var(--free); background: var(--free); }
        .swatch { display: inline-block; width: .8em; height: .8em; margin: 0 .3em 0 .8em; border-radius: 2px; vertical-align: -1px; }
        .figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(10rem, 1fr)); gap: .6rem; margin: .8rem 0 0; }
        .figures dt { color: var(--muted); font-size: .85em; }
        .figures dd { margin: 0; font-weight: 600; word-break: break-all; }
        .secret { border-color: #e0a100; background: #fffbea; }
        .link { width: 100%; font-family: ui-monospace, monospace; }
        .crumbs { word-break: break-all; }
        .folder::before { content: "\\1F4C1  "; }
        .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 1rem; }
        .charts figure { margin: 0; }
        svg.chart { width: 100%; height: 120px; display: block; }
        svg.chart polyline { fill: none; stroke: var(--accent); stroke-width: 2; vector-effect: non-scaling-stroke; }
        svg.chart polyline.second { stroke: var(--reserved); }
        svg.chart line { stroke: var(--line); vector-effect: non-scaling-stroke; }
        progress { width: 10rem; vertical-align: middle; }
        .login { max-width: 30rem; }
        .or { color: var(--muted); margin: .4rem 0; }
        @media (max-width: 480px) { main { padding: .6rem; } .card input[type=text], .card input[type=password] { width: 100%; } th, td { padding: .35rem; } }
        """

    static let js = """
        'use strict';
        document.addEventListener('submit', function (event) {
          var form = event.target;
          if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) { event.preventDefault(); }
        });
        (function () {
          var form = document.getElementById('upload');
          if (!form) { return; }
          var progress = form.querySelector('progress');
          var status = form.querySelector('.upload-status');
          form.addEventListener('submit', function (event) {
            event.preventDefault();
            var file = form.elements.file.files[0];
            if (!file) { return; }
            var key = form.elements.key.value || (form.dataset.prefix + file.name);
            var path = key.split('/').map(encodeURIComponent).join('/');
            var xhr = new XMLHttpRequest();
            xhr.open('PUT', form.dataset.action + path);
            xhr.setRequestHeader('X-CSRF-Token', form.elements.csrf.value);
            if (file.type) { xhr.setRequestHeader('Content-Type', file.type); }
            progress.hidden = false;
            progress.value = 0;
            status.textContent = 'Uploading ' + key + '…';
            xhr.upload.onprogress = function (e) { if (e.lengthComputable) { progress.value = Math.floor(100 * e.loaded / e.total); } };
            xhr.onload = function () {
              if (xhr.status >= 200 && xhr.status < 300) {
                progress.value = 100;
                status.textContent = 'Uploaded ' + key + '.';
                window.location.reload();
              } else {
                var detail = xhr.statusText;
                try { detail = JSON.parse(xhr.responseText).detail || detail; } catch (e) {}
                status.textContent = 'Upload failed (' + xhr.status + '): ' + detail;
              }
            };
            xhr.onerror = function () { status.textContent = 'Upload failed: the connection was lost.'; };
            xhr.send(file);
          });
        })();
        (function () {
          var seconds = parseInt(document.body.dataset.refresh || '0', 10);
          if (!seconds) { return; }
          setInterval(function () {
            var active = document.activeElement;
            if (active && (active.tagName === 'INPUT' || active.tagName === 'SELECT')) { return; }
            window.location.reload();
          }, seconds * 1000);
        })();
        """
}
