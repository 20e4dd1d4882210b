/*
 * Camera Guard's settings page. It edits the CameraGuard platform block in memory and talks to the plugin's server
 * side (homebridge-ui/server.js) through `homebridge.request(path, body)`; the paths, bodies and replies are those of
 * src/ui/protocol.ts. Nothing reaches config.json until Save, and Save writes only what the server side's /validate
 * accepts. A failed request shows its one-sentence message in the section it came from.
 *
 * Secrets: a stored password or passphrase is never put back into the page (its field stays empty and says that
 * one is stored); typing into the field replaces it.
 */
'use strict';

(function settingsPage() {
  const hb = window.homebridge;
  const PLATFORM = 'CameraGuard';
  const SERVICES = ['dns', 'ntp', 'smtp'];
  const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
  /**
   * The most services and ports a camera may keep open while blocked, ticked and typed together: each takes one of its
   * ten rule numbers on the router. MAX_ALLOW_ENTRIES in src/settings.ts; the plugin refuses a camera with more.
   */
  const MAX_ALLOW_ENTRIES = 7;

  /**
   * Every config block of the plugin, as the UI gave them, in their order. Each CameraGuard block is one Camera Guard
   * platform (several, each on its own child bridge, for more cameras than one bridge holds); `platform` is the one
   * being edited. Save writes all of them back, in the same order: a block not being edited is never dropped.
   */
  let blocks = [];
  let platform = { platform: PLATFORM, name: 'Camera Guard', routers: [] };
  let routerIndex = 0;
  /** The last discovery, for the router it was made on. */
  let discovery = { routerIndex: -1, devices: [] };

  const $ = (testid, root) => (root || document).querySelector(`[data-testid="${testid}"]`);

  /** Builds an element: el('li', { class: 'x', testid: 'y' }, 'text', child, ...). */
  function el(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === false) continue;
      if (name === 'testid') element.dataset.testid = value;
      else if (name === 'class') element.className = value;
      else element.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child === undefined || child === null) continue;
      element.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child);
    }
    return element;
  }

  function show(testid, visible) {
    $(testid).hidden = !visible;
  }

  /** The message of a rejected request: the server side sends one sentence; anything else is said plainly. */
  function messageOf(error) {
    if (error && typeof error.message === 'string' && error.message !== '') return error.message;
    if (typeof error === 'string' && error !== '') return error;
    return 'The request failed without a message; see the Homebridge log.';
  }

  function setError(section, error) {
    const box = $(`${section}-error`);
    box.textContent = error === undefined ? '' : messageOf(error);
    box.hidden = error === undefined;
  }

  /** Runs one request for a section: spinner, the section's error cleared before and set on failure. */
  async function ask(section, path, body) {
    setError(section, undefined);
    hb.showSpinner();
    try {
      return await hb.request(path, body);
    } catch (error) {
      setError(section, error);
      return undefined;
    } finally {
      hb.hideSpinner();
    }
  }

  function routers() {
    if (!Array.isArray(platform.routers)) platform.routers = [];
    return platform.routers;
  }

  function currentRouter() {
    return routers()[routerIndex];
  }

  function cameras(router) {
    if (!Array.isArray(router.cameras)) router.cameras = [];
    return router.cameras;
  }

  function newRouter(number) {
    return { name: number === 1 ? 'Home' : `Router ${number}`, port: 22, username: 'homebridge', authMethod: 'key', wanInterface: 'eth0', cameras: [] };
  }

  // ---- Router picker ----

  function renderRouterPicker() {
    const select = $('router-select');
    select.replaceChildren(...routers().map((router, index) => el('option', { value: index, selected: index === routerIndex }, router.name || `Router ${index + 1}`)));
    $('router-remove').hidden = routers().length < 2;
  }

  $('router-select').addEventListener('change', (event) => {
    routerIndex = Number(event.target.value);
    renderAll();
  });

  $('router-add').addEventListener('click', () => {
    routers().push(newRouter(routers().length + 1));
    routerIndex = routers().length - 1;
    renderAll();
  });

  $('router-remove').addEventListener('click', () => {
    if (routers().length < 2) return;
    routers().splice(routerIndex, 1);
    routerIndex = Math.max(0, routerIndex - 1);
    renderAll();
  });

  // ---- Platform picker ----

  function platforms() {
    return blocks.filter((block) => block.platform === PLATFORM);
  }

  function platformName(block, index) {
    return typeof block.name === 'string' && block.name !== '' ? block.name : index === 0 ? 'Camera Guard' : `Camera Guard platform ${index + 1}`;
  }

  function renderPlatformPicker() {
    const all = platforms();
    $('platform-select').replaceChildren(...all.map((block, index) => el('option', { value: index, selected: block === platform }, platformName(block, index))));
    $('platform-name').value = platformName(platform, all.indexOf(platform));
    show('platform-picker', all.length > 1);
    show('platform-note', all.length > 1);
  }

  $('platform-select').addEventListener('change', (event) => {
    platform = platforms()[Number(event.target.value)] || platform;
    routerIndex = 0;
    discovery = { routerIndex: -1, devices: [] };
    renderAll();
  });

  $('platform-name').addEventListener('input', (event) => {
    // Each platform's log lines, status and files are told apart by its name (Save refuses two of one name).
    platform.name = event.target.value;
    const option = $('platform-select').selectedOptions[0];
    if (option) option.textContent = platform.name;
  });

  $('platform-add').addEventListener('click', () => {
    const taken = new Set(platforms().map((block, index) => platformName(block, index)));
    let number = platforms().length + 1;
    while (taken.has(`Camera Guard ${number}`)) number++;
    platform = { platform: PLATFORM, name: `Camera Guard ${number}`, routers: [] };
    blocks.push(platform);
    routerIndex = 0;
    discovery = { routerIndex: -1, devices: [] };
    renderAll();
  });

  // ---- 1. Prepare the router ----

  $('generate-key').addEventListener('click', async () => {
    const router = currentRouter();
    const key = await ask('prepare', '/keys/generate', {});
    if (key === undefined) return;
    router.privateKeyFile = key.privateKeyFile;
    router.authMethod = 'key';
    if (typeof router.username !== 'string' || router.username.trim() === '') router.username = 'homebridge';
    renderRouterForm();
    const commands = await ask('prepare', '/router/commands', { username: router.username, publicKey: key.publicKey });
    if (commands === undefined) return;
    $('router-commands').textContent = commands.commands.join('\n');
    $('commands-explanation').textContent = commands.explanation;
    show('copy-result', false);
    show('router-commands-block', true);
  });

  $('copy-commands').addEventListener('click', async () => {
    const text = $('router-commands').textContent;
    let copied = false;
    try {
      await navigator.clipboard.writeText(text);
      copied = true;
    } catch {
      // The UI's iframe may not be allowed the clipboard: select the text and copy it the old way.
      const range = document.createRange();
      range.selectNodeContents($('router-commands'));
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      copied = document.execCommand('copy');
    }
    $('copy-result').textContent = copied ? 'Copied. Paste them into an SSH session on the router.' : 'Could not copy: select the commands and copy them by hand.';
    show('copy-result', true);
  });

  // ---- 2. Router ----

  function renderRouterForm() {
    const router = currentRouter();
    for (const input of document.querySelectorAll('[data-testid="router"] [data-field]')) {
      const value = router[input.dataset.field];
      input.value = value === undefined || value === null ? '' : String(value);
    }
    if ($('router-auth').value === '') $('router-auth').value = 'key';
    for (const input of document.querySelectorAll('[data-testid="router"] [data-secret]')) {
      // Never the stored secret itself: only whether there is one.
      input.value = '';
      input.placeholder = typeof router[input.dataset.secret] === 'string' && router[input.dataset.secret] !== '' ? 'stored (type to replace it)' : '';
    }
    const method = router.authMethod === 'password' ? 'password' : 'key';
    for (const label of document.querySelectorAll('[data-auth]')) label.hidden = label.dataset.auth !== method;
  }

  for (const input of document.querySelectorAll('[data-testid="router"] [data-field]')) {
    const update = () => {
      const router = currentRouter();
      const field = input.dataset.field;
      const text = input.value.trim();
      if (text === '' && field !== 'name' && field !== 'username') delete router[field];
      else if (field === 'port') router.port = /^\d+$/.test(text) ? Number(text) : text;
      else router[field] = text;
      if (field === 'name') renderRouterPicker();
      if (field === 'authMethod') renderRouterForm();
    };
    input.addEventListener('input', update);
    input.addEventListener('change', update);
  }

  for (const input of document.querySelectorAll('[data-testid="router"] [data-secret]')) {
    input.addEventListener('input', () => {
      if (input.value !== '') currentRouter()[input.dataset.secret] = input.value;
    });
  }

  const HOST_KEY_STATUS = {
    pinned: 'matches the pinned key.',
    unpinned: 'is not pinned yet: pin it so that Camera Guard can tell your router from an impostor.',
    mismatch: 'is NOT the pinned key.',
  };

  function renderConnectionTest(test) {
    $('connection-checks').replaceChildren(
      ...test.checks.map((check) =>
        el('li', { class: check.ok ? 'cg-check-ok' : 'cg-check-failed', testid: 'check', 'data-check': check.check, 'data-ok': String(check.ok) }, el('span', { class: 'cg-mark', 'aria-hidden': 'true' }, check.ok ? '✓' : '✗'), ' ', check.message),
      ),
    );
    const hostKey = test.hostKey;
    show('host-key', hostKey !== undefined);
    if (hostKey !== undefined) {
      $('host-key-fingerprint').textContent = hostKey.fingerprint;
      $('host-key-status').textContent = HOST_KEY_STATUS[hostKey.status] || hostKey.status;
      $('host-key-status').dataset.status = hostKey.status;
      $('host-key-warning').textContent =
        hostKey.status === 'mismatch' ? 'Someone may be intercepting the connection. If you replaced or reset the router, check this fingerprint on its console before you pin it.' : '';
      show('host-key-warning', hostKey.status === 'mismatch');
      $('pin-host-key').hidden = hostKey.status === 'pinned';
      $('pin-host-key').dataset.fingerprint = hostKey.fingerprint;
    }
    const info = $('router-info');
    const router = test.router;
    info.replaceChildren();
    if (router !== undefined) {
      const rows = [
        ['Version', router.version],
        ['Model', router.model],
        ['Hardware offload', router.hardwareOffload ? 'on (uploads of allowed cameras are under-counted; blocked attempts are counted exactly)' : 'off'],
        ['WAN interfaces', router.wanInterfaces.length > 0 ? router.wanInterfaces.join(', ') : 'none found'],
        ['WAN out slot', outSlotText(router.outSlot)],
      ];
      for (const [term, value] of rows) {
        if (value === undefined || value === '') continue;
        info.append(el('dt', {}, term), el('dd', { testid: `router-info-${term.toLowerCase().replace(/ /g, '-')}` }, value));
      }
    }
    info.hidden = router === undefined;
  }

  function outSlotText(slot) {
    if (slot === undefined) return undefined;
    if (slot.kind === 'free') return 'free: Camera Guard will create its ruleset and bind it there';
    if (slot.kind === 'ours') return `Camera Guard's ruleset ${slot.ruleSet}`;
    return `your ruleset ${slot.ruleSet}: the camera rules go into it, inside Camera Guard's rule range`;
  }

  $('test-connection').addEventListener('click', async () => {
    $('connection-checks').replaceChildren();
    show('host-key', false);
    show('router-info', false);
    const test = await ask('router', '/router/test', { router: currentRouter() });
    if (test !== undefined) renderConnectionTest(test);
  });

  $('pin-host-key').addEventListener('click', () => {
    const fingerprint = $('pin-host-key').dataset.fingerprint;
    if (!fingerprint) return;
    currentRouter().hostKey = fingerprint;
    renderRouterForm();
    $('host-key-status').textContent = 'is pinned in the settings (Save to keep it).';
    $('host-key-status').dataset.status = 'pinned';
    show('host-key-warning', false);
    $('pin-host-key').hidden = true;
  });

  // ---- 3. Cameras ----

  /** The services and ports a camera keeps open while blocked, each once, counted as the plugin counts them. */
  function allowEntries(camera) {
    const entries = [...(Array.isArray(camera.allow) ? camera.allow : []), ...(Array.isArray(camera.allowPorts) ? camera.allowPorts : [])];
    return new Set(
      entries
        .filter((entry) => typeof entry === 'string')
        .map((entry) =>
          entry
            .trim()
            .toLowerCase()
            .replace(/^(tcp|udp)\/0*(?=\d)/, '$1/'),
        ),
    );
  }

  function cameraTitle(camera) {
    return typeof camera.name === 'string' && camera.name.trim() !== '' ? `Camera "${camera.name.trim()}"` : 'This camera';
  }

  /** The sentence for a camera that keeps more services and ports open than fit, or undefined. */
  function tooManyAllowed(camera) {
    const count = allowEntries(camera).size;
    if (count <= MAX_ALLOW_ENTRIES) return undefined;
    const over = count - MAX_ALLOW_ENTRIES;
    return `${cameraTitle(camera)} keeps ${count} services and ports open while blocked, but at most ${MAX_ALLOW_ENTRIES} fit together (each takes one of its rule numbers on the router): remove ${over === 1 ? 'one' : over}.`;
  }

  function renderCameras() {
    const router = currentRouter();
    const list = cameras(router);
    $('camera-list').replaceChildren(...list.map((camera, index) => cameraRow(camera, index)));
    show('no-cameras', list.length === 0);
  }

  function cameraRow(camera, index) {
    const text = (field, placeholder) => {
      const input = el('input', { class: 'form-control form-control-sm', testid: `camera-${field}`, placeholder });
      input.value = typeof camera[field] === 'string' ? camera[field] : '';
      input.addEventListener('input', () => {
        const value = input.value.trim();
        if (value === '' && field === 'mac') delete camera.mac;
        else camera[field] = value;
      });
      return el('td', {}, input);
    };
    const allow = Array.isArray(camera.allow) ? camera.allow : [];
    // Other ports (allowPorts, tcp/PORT or udp/PORT), as the owner typed them; Save's /validate checks each. An
    // untouched camera keeps its list exactly as loaded.
    const ports = el('input', {
      class: 'form-control form-control-sm cg-ports-input',
      testid: 'camera-allow-ports',
      placeholder: 'tcp/8443, udp/1194',
      title: 'Other ports this camera may still reach while blocked: tcp/PORT or udp/PORT, separated by commas',
    });
    ports.value = Array.isArray(camera.allowPorts) ? camera.allowPorts.filter((entry) => typeof entry === 'string').join(', ') : '';
    const problem = el('div', { class: 'cg-error', testid: 'camera-allow-problem', role: 'alert', hidden: true });
    const say = (sentence) => {
      problem.textContent = sentence || '';
      problem.hidden = !sentence;
      ports.classList.toggle('is-invalid', allowEntries(camera).size > MAX_ALLOW_ENTRIES);
    };
    ports.addEventListener('input', () => {
      const entries = ports.value
        .split(/[\s,]+/)
        .map((entry) => entry.trim())
        .filter((entry) => entry !== '');
      if (entries.length === 0) delete camera.allowPorts;
      else camera.allowPorts = entries;
      say(tooManyAllowed(camera));
    });
    const services = el(
      'td',
      { class: 'cg-services' },
      ...SERVICES.map((service) => {
        const box = el('input', { type: 'checkbox', class: 'form-check-input', testid: `camera-allow-${service}`, checked: allow.includes(service) });
        box.addEventListener('change', () => {
          const count = allowEntries(camera).size;
          const after = allowEntries({ ...camera, allow: [...(Array.isArray(camera.allow) ? camera.allow : []), service] }).size;
          if (box.checked && after > MAX_ALLOW_ENTRIES && after > count) {
            // Refused at once: a tick that cannot be saved would only be refused again by Save.
            box.checked = false;
            say(`${cameraTitle(camera)} keeps ${count} services and ports open while blocked already, and at most ${MAX_ALLOW_ENTRIES} fit together (each takes one of its rule numbers on the router), so ${service.toUpperCase()} was not ticked: untick a service or remove a port first.`);
            return;
          }
          const current = new Set(Array.isArray(camera.allow) ? camera.allow : []);
          if (box.checked) current.add(service);
          else current.delete(service);
          // Keep the owner's order and any entry this page does not know (tcp/PORT from older configs).
          camera.allow = [...(Array.isArray(camera.allow) ? camera.allow.filter((entry) => current.has(entry)) : []), ...[...current].filter((entry) => !(camera.allow || []).includes(entry))];
          say(tooManyAllowed(camera));
        });
        return el('label', { class: 'cg-inline' }, box, ` ${service.toUpperCase()}`);
      }),
      ports,
      el('div', { class: 'cg-note', testid: 'camera-allow-limit' }, `At most ${MAX_ALLOW_ENTRIES} together, ticked and typed.`),
      problem,
    );
    // A camera loaded with more than fit says so at once.
    say(tooManyAllowed(camera));
    // Expected destinations (allowDestinations): one entry a line, kept as the owner wrote them; Save's /validate
    // checks each. An untouched camera keeps its list exactly as loaded.
    const expected = el('textarea', {
      class: 'form-control form-control-sm cg-expected-input',
      testid: 'camera-allow-destinations',
      rows: 2,
      placeholder: 'firmware.example.com\n1.1.1.1\n203.0.113.0/24',
      title: 'Addresses, CIDRs or host names this camera is expected to reach, one a line',
    });
    expected.value = Array.isArray(camera.allowDestinations) ? camera.allowDestinations.filter((entry) => typeof entry === 'string').join('\n') : '';
    expected.addEventListener('input', () => {
      const entries = expected.value
        .split(/[\n,]/)
        .map((entry) => entry.trim())
        .filter((entry) => entry !== '');
      if (entries.length === 0) delete camera.allowDestinations;
      else camera.allowDestinations = entries;
    });
    const foreignDns = el('input', { type: 'checkbox', class: 'form-check-input', testid: 'camera-trip-on-foreign-dns', checked: camera.tripOnForeignDns === true });
    foreignDns.addEventListener('change', () => {
      if (foreignDns.checked) camera.tripOnForeignDns = true;
      else delete camera.tripOnForeignDns;
    });
    const remove = el('button', { type: 'button', class: 'btn btn-outline-danger btn-sm', testid: 'camera-remove', title: 'Its rules stay on the router and keep it blocked' }, 'Remove');
    remove.addEventListener('click', () => {
      cameras(currentRouter()).splice(index, 1);
      renderCameras();
      renderDiscovery();
    });
    return el(
      'tr',
      { testid: 'camera-row', 'data-name': camera.name || '' },
      text('name', 'Front Door'),
      text('address', '192.168.1.50'),
      text('mac', '00:11:22:33:44:55'),
      services,
      el('td', {}, expected),
      el('td', {}, el('label', { class: 'cg-inline' }, foreignDns, ' DNS only to the router')),
      el('td', {}, remove),
    );
  }

  $('camera-add').addEventListener('click', () => {
    cameras(currentRouter()).push({ name: '', address: '' });
    renderCameras();
  });

  /** Whether a discovered device is one of the router's configured cameras (by MAC or any address). */
  function isConfigured(device) {
    return cameras(currentRouter()).some(
      (camera) => (device.mac && typeof camera.mac === 'string' && camera.mac.toLowerCase().replace(/-/g, ':') === device.mac) || device.addresses.includes(camera.address),
    );
  }

  function renderDiscovery() {
    const visible = discovery.routerIndex === routerIndex;
    show('discovery', visible);
    if (!visible) return;
    $('device-list').replaceChildren(
      ...discovery.devices.map((device, index) => {
        const configured = device.configured || isConfigured(device);
        const box = el('input', { type: 'checkbox', class: 'form-check-input', testid: 'device-select', disabled: configured, checked: !configured && device.selected === true });
        box.addEventListener('change', () => (device.selected = box.checked));
        return el(
          'tr',
          { testid: 'device-row', 'data-mac': device.mac || '', 'data-index': index },
          el('td', {}, box),
          el('td', { testid: 'device-name' }, device.name || ''),
          el('td', { testid: 'device-addresses' }, device.addresses.join(', ')),
          el('td', { testid: 'device-mac' }, device.mac || ''),
          el('td', { testid: 'device-vendor' }, device.vendor || 'unknown maker'),
          el(
            'td',
            {},
            device.camera ? el('span', { class: 'badge bg-primary', testid: 'device-camera' }, 'camera') : undefined,
            configured ? el('span', { class: 'badge bg-secondary', testid: 'device-configured' }, 'already configured') : undefined,
          ),
        );
      }),
    );
    show('no-devices', discovery.devices.length === 0);
  }

  $('discover').addEventListener('click', async () => {
    const router = currentRouter();
    const body = { router, cameras: cameras(router).map((camera) => ({ address: camera.address, mac: camera.mac })) };
    const result = await ask('cameras', '/cameras/discover', body);
    if (result === undefined) return;
    // A camera maker's device that is not configured yet is ticked already; the owner unticks what is not a camera.
    discovery = { routerIndex, devices: result.devices.map((device) => ({ ...device, selected: device.camera && !device.configured })) };
    renderDiscovery();
  });

  function uniqueName(wanted, taken) {
    let name = wanted;
    for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${wanted} ${n}`;
    taken.add(name.toLowerCase());
    return name;
  }

  $('add-selected').addEventListener('click', () => {
    setError('cameras', undefined);
    const list = cameras(currentRouter());
    const taken = new Set(list.map((camera) => String(camera.name || '').toLowerCase()));
    const skipped = [];
    for (const device of discovery.devices) {
      if (!device.selected || device.configured || isConfigured(device)) continue;
      const address = device.addresses.find((candidate) => IPV4.test(candidate));
      const label = device.name || device.vendor || device.mac || 'device';
      if (address === undefined) {
        skipped.push(label);
        continue;
      }
      // HomeKit names end in a letter or digit; the DHCP name is usually the best one the router knows.
      const base = String(device.name || device.vendor || 'Camera').replace(/[^\p{L}\p{N} '-]+/gu, ' ').replace(/[\s'-]+$/u, '').trim() || 'Camera';
      const camera = { name: uniqueName(base, taken), address };
      if (device.mac) camera.mac = device.mac;
      list.push(camera);
      device.selected = false;
    }
    renderCameras();
    renderDiscovery();
    if (skipped.length > 0) setError('cameras', `${skipped.join(', ')} ${skipped.length === 1 ? 'has' : 'have'} no IPv4 address the router knows, so ${skipped.length === 1 ? 'it was' : 'they were'} not added; add ${skipped.length === 1 ? 'it' : 'them'} by hand.`);
  });

  // ---- 4. Preview ----

  function list(testid, items) {
    return el('ul', { testid }, ...items.map((item) => el('li', {}, item)));
  }

  $('preview-run').addEventListener('click', async () => {
    $('preview-result').replaceChildren();
    const preview = await ask('preview', '/preview', { config: platform });
    if (preview === undefined) return;
    $('preview-result').replaceChildren(
      ...preview.routers.map((router) =>
        el(
          'div',
          { class: 'cg-preview', testid: 'preview-router', 'data-router': router.router },
          el('h6', {}, router.router),
          router.problem !== undefined ? el('p', { class: 'cg-error', testid: 'preview-problem' }, router.problem) : undefined,
          router.steps.length > 0 ? list('preview-steps', router.steps) : undefined,
          router.script !== '' ? el('pre', { class: 'cg-pre', testid: 'preview-script' }, router.script) : router.problem === undefined ? el('p', { class: 'cg-note', testid: 'preview-nothing' }, 'Nothing would change on this router.') : undefined,
          router.leftAlone.length > 0 ? el('div', {}, el('p', { class: 'cg-note' }, 'Left alone (your own rules):'), list('preview-left-alone', router.leftAlone)) : undefined,
        ),
      ),
    );
  });

  // ---- Status ----

  function when(iso) {
    if (!iso) return 'never';
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
  }

  // Where a camera sends (issue 12). Every string here is router or DNS text: it goes in as text (el), never as HTML.
  function destinationRow(destination, blocked) {
    const where = [destination.address, destination.protocol + (destination.port === undefined ? '' : `/${destination.port}`)].join(' ');
    const known = [destination.hostName, destination.network].filter((part) => typeof part === 'string' && part !== '').join(', ');
    let amount;
    if (blocked) amount = `${destination.count} tries logged`;
    else amount = `${destination.count} flows` + (typeof destination.bytesSent === 'number' ? `, ${(destination.bytesSent / 1e6).toFixed(2)} MB sent` : '');
    // Older status files have no `expected`: their rows are shown unmarked.
    const unexpected = destination.expected === false;
    const expected = destination.expected === true;
    return el(
      'li',
      { testid: 'status-destination', class: unexpected ? 'cg-unexpected' : expected ? 'cg-expected' : undefined, 'data-expected': unexpected ? 'false' : expected ? 'true' : undefined },
      unexpected ? el('strong', {}, 'not expected: ') : undefined,
      where,
      known ? ` (${known})` : '',
      `: ${amount}`,
      destination.lastSeen ? `, last ${when(destination.lastSeen)}` : '',
      expected ? el('span', { class: 'cg-note' }, ' (expected)') : undefined,
    );
  }

  function destinationsOf(camera) {
    const destinations = camera.destinations;
    if (!destinations || typeof destinations !== 'object') return undefined;
    const blocked = Array.isArray(destinations.blocked) ? destinations.blocked : [];
    const allowed = Array.isArray(destinations.allowed) ? destinations.allowed : [];
    return el(
      'div',
      { class: 'cg-destinations', testid: 'status-destinations', 'data-name': camera.name },
      el('p', { class: 'cg-note' }, `${camera.name}: destinations read ${when(destinations.updatedAt)}.`),
      blocked.length > 0 ? el('p', {}, 'Tried while blocked (the logged tries are a sample):') : undefined,
      blocked.length > 0 ? el('ul', { testid: 'status-blocked' }, ...blocked.map((d) => destinationRow(d, true))) : undefined,
      allowed.length > 0 ? el('p', {}, 'Sends while allowed:') : undefined,
      allowed.length > 0 ? el('ul', { testid: 'status-allowed' }, ...allowed.map((d) => destinationRow(d, false))) : undefined,
      destinations.accounting === 'off'
        ? el('p', { class: 'cg-note', testid: 'status-accounting-off' }, 'The router does not count bytes: accounting is off. Turn it on with sudo sysctl -w net.netfilter.nf_conntrack_acct=1 on the router (again after each reboot).')
        : undefined,
      typeof destinations.more === 'number' && destinations.more > 0 ? el('p', { class: 'cg-note' }, `and ${destinations.more} more`) : undefined,
    );
  }

  function renderStatus(status) {
    const result = $('status-result');
    if (!status.running) {
      result.replaceChildren(el('p', { class: 'cg-note', testid: 'status-not-running' }, 'Camera Guard is not running (or has not written its status yet): save, restart Homebridge, and refresh.'));
      return;
    }
    const parts = [el('p', { class: 'cg-note', testid: 'status-updated' }, `Updated ${when(status.updatedAt)}.`)];
    for (const router of status.routers) {
      parts.push(
        el(
          'div',
          { class: 'cg-status-router', testid: 'status-router', 'data-router': router.name },
          el('h6', {}, router.name, ' ', el('small', { class: 'cg-note' }, router.platform ? `of ${router.platform}, ` : '', `last read ${when(router.lastPoll)}`)),
          router.problem ? el('p', { class: 'cg-error', testid: 'status-problem' }, router.problem) : undefined,
          el(
            'table',
            { class: 'table table-sm cg-table' },
            el('thead', {}, el('tr', {}, ...['Camera', 'Address', 'Router enforces', 'Blocked packets', 'Sent while allowed', 'Leak', 'Last leak'].map((title) => el('th', {}, title)))),
            el(
              'tbody',
              {},
              ...router.cameras.map((camera) =>
                el(
                  'tr',
                  { testid: 'status-camera', 'data-name': camera.name },
                  el('td', {}, camera.name),
                  el('td', {}, camera.address),
                  el('td', { testid: 'status-enforced' }, camera.enforced),
                  el('td', {}, camera.blockedPackets === undefined ? '' : String(camera.blockedPackets)),
                  el('td', {}, camera.egressBytes === undefined ? '' : `${(camera.egressBytes / 1e6).toFixed(1)} MB`),
                  el('td', { testid: 'status-leak' }, camera.leak ? 'LEAK' : 'no'),
                  el('td', {}, camera.lastLeakTrip ? when(camera.lastLeakTrip) : ''),
                ),
              ),
            ),
          ),
          ...router.cameras.map(destinationsOf),
        ),
      );
    }
    if (Array.isArray(status.networkNames)) {
      parts.push(...status.networkNames.map((line) => el('p', { class: 'cg-note', testid: 'status-network-names' }, line)));
    }
    if (status.networkCredit === true) {
      // The data's licences (CC BY 4.0) ask for credit, and DB-IP's for a link, where its results are shown.
      const link = (text, href) => el('a', { href, target: '_blank', rel: 'noopener noreferrer' }, text);
      parts.push(
        el(
          'p',
          { class: 'cg-note', testid: 'status-network-credit' },
          'Network names: ',
          link('ip-location-db', 'https://github.com/sapics/ip-location-db'),
          ' (CC BY 4.0), from ',
          link('RouteViews', 'https://www.routeviews.org/'),
          ', ',
          link('IP to ASN Lite by DB-IP', 'https://db-ip.com/'),
          ' and the ',
          link('NRO', 'https://www.nro.net/'),
          '.',
        ),
      );
    }
    if (Array.isArray(status.configErrors) && status.configErrors.length > 0) {
      parts.push(el('p', { class: 'cg-note' }, 'Settings the running plugin skipped:'), list('status-config-errors', status.configErrors));
    }
    result.replaceChildren(...parts);
  }

  async function refreshStatus() {
    const status = await ask('status', '/status', {});
    if (status !== undefined) renderStatus(status);
  }

  $('status-refresh').addEventListener('click', () => void refreshStatus());

  // ---- General settings ----
  // The platform's own settings (pollSeconds, leak, networkData, nameServers). A field is written only when the owner
  // sets it to something other than its default, and no key the page does not show is touched, so a hand-edited or
  // older config keeps its meaning. What the owner types goes to /validate as typed: the plugin's reader says what is
  // wrong with it, in its own words.

  const NETWORK_FILES = ['asnIpv4', 'asnIpv6', 'countryIpv4', 'countryIpv6'];
  const NETWORK_SOURCES = ['bundled', 'files', 'off'];

  function isPlainObject(value) {
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  }

  /** A general setting by its path (`pollSeconds`, `leak.attempts`). */
  function readGeneral(path) {
    const [first, second] = path.split('.');
    if (second === undefined) return platform[first];
    return isPlainObject(platform[first]) ? platform[first][second] : undefined;
  }

  /** Sets a general setting, or removes it (`undefined`) and the `leak` block with it once that is empty. */
  function writeGeneral(path, value) {
    const [first, second] = path.split('.');
    if (second === undefined) {
      if (value === undefined) delete platform[first];
      else platform[first] = value;
      return;
    }
    if (value === undefined) {
      if (!isPlainObject(platform[first])) return;
      delete platform[first][second];
      if (Object.keys(platform[first]).length === 0) delete platform[first];
      return;
    }
    if (!isPlainObject(platform[first])) platform[first] = {};
    platform[first][second] = value;
  }

  function networkData() {
    return isPlainObject(platform.networkData) ? platform.networkData : {};
  }

  function setNetworkData(data) {
    if (Object.keys(data).length === 0) delete platform.networkData;
    else platform.networkData = data;
  }

  function hasNetworkFiles(data) {
    return NETWORK_FILES.some((key) => typeof data[key] === 'string' && data[key] !== '');
  }

  /** The source as the plugin reads it: file paths without a source mean "files", as before `source` existed. */
  function networkSource(data) {
    if (NETWORK_SOURCES.includes(data.source)) return data.source;
    return hasNetworkFiles(data) ? 'files' : 'bundled';
  }

  function renderGeneral() {
    for (const input of document.querySelectorAll('[data-general]')) {
      const value = readGeneral(input.dataset.general);
      input.value = typeof value === 'number' || typeof value === 'string' ? String(value) : '';
    }
    const data = networkData();
    for (const input of document.querySelectorAll('[data-network-file]')) {
      const value = data[input.dataset.networkFile];
      input.value = typeof value === 'string' ? value : '';
    }
    $('general-network-source').value = networkSource(data);
    show('general-network-files', networkSource(data) === 'files');
    const servers = platform.nameServers;
    $('general-name-servers').value = Array.isArray(servers) ? servers.join(', ') : typeof servers === 'string' ? servers : '';
  }

  for (const input of document.querySelectorAll('[data-general]')) {
    input.addEventListener('input', () => {
      const text = input.value.trim();
      const value = text === '' ? undefined : /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
      // The default typed out means the default: nothing is written for it.
      writeGeneral(input.dataset.general, value === Number(input.dataset.default) ? undefined : value);
    });
  }

  $('general-network-source').addEventListener('change', (event) => {
    const source = event.target.value;
    const data = networkData();
    // Paths beside "bundled" or "off" would not be read (and the plugin refuses them), so they go with that choice; they
    // stay typed in their hidden fields and come back if the owner picks "files" again.
    for (const input of document.querySelectorAll('[data-network-file]')) {
      const path = input.value.trim();
      if (source === 'files' && path !== '') data[input.dataset.networkFile] = path;
      else delete data[input.dataset.networkFile];
    }
    if (source === 'bundled') delete data.source;
    else data.source = source;
    setNetworkData(data);
    show('general-network-files', source === 'files');
  });

  for (const input of document.querySelectorAll('[data-network-file]')) {
    input.addEventListener('input', () => {
      const data = networkData();
      const path = input.value.trim();
      if (path === '') delete data[input.dataset.networkFile];
      else data[input.dataset.networkFile] = path;
      // Paths without a source mean "files"; emptied, they would quietly mean the installed data set. The owner chose
      // files: say so, and Save says a file is needed.
      if ((data.source === undefined || data.source === '') && !hasNetworkFiles(data)) data.source = 'files';
      setNetworkData(data);
    });
  }

  $('general-name-servers').addEventListener('input', (event) => {
    const servers = event.target.value.split(/[\s,]+/).filter((entry) => entry !== '');
    if (servers.length === 0) delete platform.nameServers;
    else platform.nameServers = servers;
  });

  // ---- 5. Save ----

  $('save-button').addEventListener('click', async () => {
    show('save-result', false);
    show('save-errors', false);
    // Checked here first so that the sentence is the one the camera editor shows (the plugin's reader refuses it too).
    const crowded = (Array.isArray(platform.routers) ? platform.routers : [])
      .flatMap((router) => (Array.isArray(router.cameras) ? router.cameras : []))
      .map(tooManyAllowed)
      .filter((sentence) => sentence !== undefined);
    if (crowded.length > 0) {
      $('save-errors').replaceChildren(...crowded.map((sentence) => el('li', { testid: 'save-error-item' }, sentence)));
      show('save-errors', true);
      return;
    }
    const earlier = platforms().slice(0, platforms().indexOf(platform));
    const validation = await ask('save', '/validate', { config: platform, earlier });
    if (validation === undefined) return;
    if (!validation.ok) {
      $('save-errors').replaceChildren(...validation.errors.map((error) => el('li', { testid: 'save-error-item' }, error)));
      show('save-errors', true);
      return;
    }
    // Each platform's log lines, status and files are told apart by its name: the plugin refuses a second one of a name.
    const names = platforms().map((block, index) => platformName(block, index));
    const twice = names.find((name, index) => names.indexOf(name) !== index);
    if (twice !== undefined) {
      $('save-errors').replaceChildren(el('li', { testid: 'save-error-item' }, `Two Camera Guard platforms are named "${twice}"; give each its own name (beside the platform picker) before saving.`));
      show('save-errors', true);
      return;
    }
    hb.showSpinner();
    try {
      await hb.updatePluginConfig(blocks);
      await hb.savePluginConfig();
      $('save-result').textContent = 'Saved. Restart Homebridge to apply the new settings.';
      show('save-result', true);
    } catch (error) {
      setError('save', error);
    } finally {
      hb.hideSpinner();
    }
  });

  // ---- Start ----

  function renderAll() {
    renderPlatformPicker();
    if (routers().length === 0) routers().push(newRouter(1));
    routerIndex = Math.min(routerIndex, routers().length - 1);
    renderRouterPicker();
    renderRouterForm();
    renderCameras();
    renderDiscovery();
    renderGeneral();
    // What was shown for another router says nothing about this one.
    $('connection-checks').replaceChildren();
    show('host-key', false);
    show('router-info', false);
    setError('router', undefined);
  }

  function adopt(config) {
    const list = Array.isArray(config) ? config : [config];
    blocks = list.filter((block) => block && typeof block === 'object');
    platform = platforms()[0] || { platform: PLATFORM, name: 'Camera Guard', routers: [] };
    if (!blocks.includes(platform)) blocks.unshift(platform);
  }

  async function start() {
    try {
      adopt(await hb.getPluginConfig());
    } catch (error) {
      setError('save', error);
    }
    renderAll();
    // The UI's own Save would write the settings unchecked: this page's Save checks them first.
    hb.disableSaveButton();
    $('page').dataset.ready = 'true';
    await refreshStatus();
  }

  hb.addEventListener('ready', () => void start());
})();
