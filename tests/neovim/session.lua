-- A Neovim session against `convlint server` (run by tests/test_server_neovim.py):
-- open FILE, wait for the diagnostics the server gives (pulled: Neovim asks with
-- textDocument/diagnostic), hover on the first, apply source.fixAll.convlint, write the
-- file, and print what was seen as JSON on the last line of standard output.
local file, python = os.getenv("CONVLINT_FILE"), os.getenv("CONVLINT_PYTHON")
local seen = { diagnostics = {}, hover = nil, errors = {} }

vim.lsp.config("convlint", {
  cmd = { python, "-m", "convlint", "server" },
  filetypes = { "python" },
  root_markers = { "pyproject.toml" },
  settings = { convlint = { ignore = { "CL102" } } },
})
vim.lsp.enable("convlint")
vim.cmd("edit " .. file)

local function wait(what, condition)
  if not vim.wait(60000, condition, 50) then
    table.insert(seen.errors, "timed out waiting for " .. what)
  end
end

wait("the server", function() return #vim.lsp.get_clients({ bufnr = 0, name = "convlint" }) > 0 end)
wait("diagnostics", function() return #vim.diagnostic.get(0) > 0 end)
for _, d in ipairs(vim.diagnostic.get(0)) do
  table.insert(seen.diagnostics, { line = d.lnum, col = d.col, code = d.code, source = d.source })
end
table.sort(seen.diagnostics, function(a, b) return a.line < b.line end)

local client = vim.lsp.get_clients({ bufnr = 0, name = "convlint" })[1]
if client and #seen.diagnostics > 0 then
  local first = seen.diagnostics[1]
  local params = { textDocument = { uri = vim.uri_from_bufnr(0) }, position = { line = first.line, character = first.col } }
  local answer = client:request_sync("textDocument/hover", params, 60000, 0)
  if answer and answer.result then seen.hover = answer.result.contents.value end
  local before = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
  vim.lsp.buf.code_action({ context = { only = { "source.fixAll.convlint" } }, apply = true })
  wait("the fix", function() return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n") ~= before end)
  vim.cmd("write")
end
io.stdout:write(vim.json.encode(seen) .. "\n")
vim.cmd("qall!")
