// Progressive enhancement only: every page works without it.
document.addEventListener("DOMContentLoaded", function () {
  if (window.renderMathInElement) {
    document.querySelectorAll(".math, .card .abstract").forEach(function (el) {
      // the delimiters paperfeed.latex_text.MATH_DELIMITERS mirrors (marks and cuts keep formulas whole)
      window.renderMathInElement(el, {
        delimiters: [
          { left: "$$", right: "$$", display: true },
          { left: "\\[", right: "\\]", display: true },
          { left: "$", right: "$", display: false },
          { left: "\\(", right: "\\)", display: false }
        ],
        throwOnError: false
      });
    });
  }
  // Copy buttons are hidden until this script runs (they do nothing without it). The
  // clipboard API exists only on secure origins (https, localhost): on a plain-http instance
  // the text is selected and copied the old way, or left selected for Ctrl+C.
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var box = document.getElementById(btn.dataset.copy);
      var selectAndCopy = function () {
        box.focus();
        box.select();
        var copied = false;
        try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
        btn.textContent = copied ? "Copied" : "Selected: press Ctrl+C";
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(box.value).then(function () { btn.textContent = "Copied"; }, selectAndCopy);
      } else {
        selectAndCopy();
      }
    });
  });
});
