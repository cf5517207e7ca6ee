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
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var text = document.getElementById(btn.dataset.copy).value;
      navigator.clipboard.writeText(text).then(function () { btn.textContent = "Copied"; });
    });
  });
});
