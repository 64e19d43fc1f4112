// Package browser drives the proxy's consent page in a real, headless
// Chromium (Debian's chromium, through github.com/chromedp/chromedp). It is
// its own module, so neither the library nor its tests import chromedp;
// .ci/run installs Chromium and runs it.
package browser
