// Interface strings in English and Chinese. Elements carry data-i18n (the
// key of their text, with placeholders from data-i18n-vars as JSON) or
// data-i18n-aria / data-i18n-alt (the key of their aria-label or alt text);
// setLang fills them.

export const STRINGS = {
  en: {
    title: "sealocr — private OCR",
    tagline: "Text recognition that stays on your server.",
    switchLang: "中文",
    switchLangLabel: "Switch the interface to Chinese",
    checking: "Checking the connection…",
    encrypted: "End-to-end encrypted (Oblivious HTTP)",
    encryptedDetail: "Your image is encrypted in this browser with HPKE before it is sent; only the gateway key below can open it.",
    keyLabel: "Gateway key",
    fingerprintLabel: "Fingerprint",
    plain: "Not encrypted",
    plainDetail: "This page is served by the OCR core directly, so images are sent as plain HTTP requests. Open it through the sidecar to encrypt them.",
    noKeys: "Encryption unavailable",
    noKeysDetail: "The gateway offers no key this page supports; nothing will be sent.",
    unreachable: "Encryption unavailable: the gateway cannot be reached",
    unreachableDetail: "The gateway's keys could not be fetched, even after several tries; nothing will be sent. Try again later.",
    plainRefused: "Not encrypted: refused",
    plainRefusedDetail: "This page is served by the OCR core directly on a network address; images would cross the network unencrypted, so nothing will be sent. Open it through the sidecar.",
    signInRequired: "This server requires an API key or a token (JWT). It stays in this tab only and is sent only inside the encrypted request.",
    signInOptional: "You may sign in with an API key or a token (JWT); it stays in this tab only and is sent only inside the encrypted request.",
    credentialLabel: "API key or token",
    signIn: "Sign in",
    signOut: "Sign out",
    signedIn: "Signed in: the key stays in this tab and travels only inside the encrypted request.",
    signedInMsg: "Signed in.",
    signedOut: "Signed out; the key was forgotten.",
    signInFirst: "Sign in first: this server requires an API key or a token.",
    err_unauthorized: "The API key or token was not accepted. Check it and sign in again.",
    or: "or",
    signInWith: "Sign in with {host}",
    oidcFinishing: "Completing the sign-in…",
    oidcFailed: "The sign-in at {host} did not complete. Try again.",
    sessionExpired: "Your sign-in has expired. Sign in again.",
    dropHere: "Drop an image or a PDF here, paste an image (Ctrl+V), or",
    choose: "choose a file",
    formats: "PDF, PNG, JPEG, GIF, BMP, TIFF (every page) or WebP",
    modeLabel: "Layout",
    modeDocument: "Page (many lines)",
    modeLine: "Single text line",
    working: "Recognising…",
    encrypting: "Encrypting and recognising…",
    done: "{n} lines in {ms} ms",
    doneEncrypted: "{n} lines in {ms} ms, sent encrypted",
    doneOne: "1 line in {ms} ms",
    doneOneEncrypted: "1 line in {ms} ms, sent encrypted",
    imageLabel: "The image with the detected text boxes",
    linesHeading: "Recognised lines",
    noLines: "No text found.",
    confidence: "confidence",
    copyText: "Copy text",
    copyJSON: "Copy JSON",
    downloadText: "Download .txt",
    downloadJSON: "Download .json",
    downloadPDF: "Download searchable PDF",
    makingPDF: "Making the searchable PDF…",
    pageHeading: "Page {n}",
    donePages: "{n} lines on {pages} pages in {ms} ms",
    donePagesEncrypted: "{n} lines on {pages} pages in {ms} ms, sent encrypted",
    copied: "Copied.",
    copyFailed: "Copying failed; use the download buttons.",
    notImage: "That file is not an image or a PDF.",
    err_network: "The server could not be reached.",
    err_open: "The encrypted answer could not be opened.",
    err_http: "The server answered with an error (HTTP {status}).",
    err_encryption_required: "The server accepts only encrypted requests.",
    err_bad_request: "The request was malformed.",
    err_not_an_image: "The server could not decode the image.",
    err_too_large: "The image is larger than the server accepts.",
    err_unsupported_media_type: "This image format is not supported.",
    err_too_many_pixels: "The image has too many pixels.",
    err_not_ready: "The OCR service is still starting; try again shortly.",
    err_busy: "The server is busy; try again shortly.",
    err_rate_limited: "Too many requests; try again shortly.",
    busyRetrying: "The server is busy, retrying in {s} s (retry {n} of {max})…",
    rateLimitedRetrying: "Too many requests, retrying in {s} s (retry {n} of {max})…",
    busyGaveUp: "The server is still busy after {n} retries; nothing was recognised. Try again in a minute.",
    rateLimitedGaveUp: "Too many requests: the server's limit was reached, even after {n} retries. Try again in a minute.",
    err_timeout: "Recognition took too long.",
    err_internal: "The server failed to process the image.",
  },
  zh: {
    title: "sealocr — 私有文字识别",
    tagline: "文字识别，数据不出你的服务器。",
    switchLang: "English",
    switchLangLabel: "将界面切换为英文",
    checking: "正在检查连接…",
    encrypted: "端到端加密（Oblivious HTTP）",
    encryptedDetail: "图片在本浏览器中先用 HPKE 加密再发送，只有下方的网关密钥能够解密。",
    keyLabel: "网关密钥",
    fingerprintLabel: "指纹",
    plain: "未加密",
    plainDetail: "本页面由 OCR 核心服务直接提供，图片将以明文 HTTP 请求发送。请通过 sidecar 访问以启用加密。",
    noKeys: "无法加密",
    noKeysDetail: "网关没有提供本页面支持的密钥，不会发送任何内容。",
    unreachable: "无法加密：无法连接网关",
    unreachableDetail: "多次尝试后仍无法获取网关密钥，不会发送任何内容。请稍后再试。",
    plainRefused: "未加密：已拒绝发送",
    plainRefusedDetail: "本页面由 OCR 核心服务通过网络地址直接提供，图片将以明文穿过网络，因此不会发送任何内容。请通过 sidecar 访问。",
    signInRequired: "本服务器需要 API 密钥或令牌（JWT）。它只保存在本标签页中，并且只在加密请求内部发送。",
    signInOptional: "可以使用 API 密钥或令牌（JWT）登录；它只保存在本标签页中，并且只在加密请求内部发送。",
    credentialLabel: "API 密钥或令牌",
    signIn: "登录",
    signOut: "退出登录",
    signedIn: "已登录：密钥只保存在本标签页中，且只在加密请求内部发送。",
    signedInMsg: "已登录。",
    signedOut: "已退出登录，密钥已清除。",
    signInFirst: "请先登录：本服务器需要 API 密钥或令牌。",
    err_unauthorized: "API 密钥或令牌未被接受。请检查后重新登录。",
    or: "或",
    signInWith: "使用 {host} 登录",
    oidcFinishing: "正在完成登录…",
    oidcFailed: "在 {host} 的登录未完成。请重试。",
    sessionExpired: "登录已过期。请重新登录。",
    dropHere: "将图片或 PDF 拖放到这里、粘贴图片（Ctrl+V），或",
    choose: "选择文件",
    formats: "PDF、PNG、JPEG、GIF、BMP、TIFF（每一页）或 WebP",
    modeLabel: "版面",
    modeDocument: "整页（多行）",
    modeLine: "单行文字",
    working: "正在识别…",
    encrypting: "正在加密并识别…",
    done: "{n} 行，用时 {ms} 毫秒",
    doneEncrypted: "{n} 行，用时 {ms} 毫秒，已加密发送",
    doneOne: "1 行，用时 {ms} 毫秒",
    doneOneEncrypted: "1 行，用时 {ms} 毫秒，已加密发送",
    imageLabel: "图片及检测到的文字框",
    linesHeading: "识别结果",
    noLines: "未发现文字。",
    confidence: "置信度",
    copyText: "复制文本",
    copyJSON: "复制 JSON",
    downloadText: "下载 .txt",
    downloadJSON: "下载 .json",
    downloadPDF: "下载可搜索的 PDF",
    makingPDF: "正在生成可搜索的 PDF…",
    pageHeading: "第 {n} 页",
    donePages: "{pages} 页共 {n} 行，用时 {ms} 毫秒",
    donePagesEncrypted: "{pages} 页共 {n} 行，用时 {ms} 毫秒，已加密发送",
    copied: "已复制。",
    copyFailed: "复制失败，请使用下载按钮。",
    notImage: "该文件不是图片或 PDF。",
    err_network: "无法连接服务器。",
    err_open: "无法解密服务器的加密应答。",
    err_http: "服务器返回错误（HTTP {status}）。",
    err_encryption_required: "服务器只接受加密请求。",
    err_bad_request: "请求格式错误。",
    err_not_an_image: "服务器无法解码该图片。",
    err_too_large: "图片超过服务器允许的大小。",
    err_unsupported_media_type: "不支持该图片格式。",
    err_too_many_pixels: "图片像素过多。",
    err_not_ready: "OCR 服务仍在启动，请稍后再试。",
    err_busy: "服务器繁忙，请稍后再试。",
    err_rate_limited: "请求过于频繁，请稍后再试。",
    busyRetrying: "服务器繁忙，{s} 秒后重试（第 {n}/{max} 次）…",
    rateLimitedRetrying: "请求过于频繁，{s} 秒后重试（第 {n}/{max} 次）…",
    busyGaveUp: "重试 {n} 次后服务器仍然繁忙，未能识别。请一分钟后再试。",
    rateLimitedGaveUp: "请求过于频繁：重试 {n} 次后仍超出服务器限额。请一分钟后再试。",
    err_timeout: "识别超时。",
    err_internal: "服务器处理图片失败。",
  },
};

let current = "en";

/** The language to start with: Chinese for zh-* browsers, else English. */
export function initialLang() {
  const langs = navigator.languages?.length ? navigator.languages : [navigator.language || "en"];
  return String(langs[0]).toLowerCase().startsWith("zh") ? "zh" : "en";
}

export function lang() {
  return current;
}

/** Returns the string for key, with {name} placeholders filled from vars. */
export function t(key, vars = {}) {
  const s = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

/** Switches the language and refreshes every marked element under root. */
export function setLang(l, root = document) {
  current = STRINGS[l] ? l : "en";
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n, el.dataset.i18nVars ? JSON.parse(el.dataset.i18nVars) : {});
  }
  for (const el of root.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
  for (const el of root.querySelectorAll("[data-i18n-alt]")) el.alt = t(el.dataset.i18nAlt);
}

/** Sets el's text to the string for key and keeps it across switches. */
export function say(el, key, vars) {
  el.dataset.i18n = key;
  if (vars) el.dataset.i18nVars = JSON.stringify(vars);
  else delete el.dataset.i18nVars;
  el.textContent = t(key, vars);
}
