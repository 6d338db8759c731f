#include "client/text_layout.h"

#include <algorithm>

namespace pvm::ctl {

std::string KeyValueLines(const KeyValueRows& rows) {
  size_t key_width = 0;
  for (const auto& [key, value] : rows) key_width = std::max(key_width, key.size());
  std::string text;
  for (const auto& [key, value] : rows) {
    text += key;
    text += ": ";
    text.append(key_width - key.size(), ' ');
    text += value;
    text += '\n';
  }
  return text;
}

std::string AlignedTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string text;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size(), ' ');
    }
    // An empty last cell would otherwise leave the padding of the cell before it.
    line.erase(line.find_last_not_of(' ') + 1);
    text += line;
    text += '\n';
  }
  return text;
}

}  // namespace pvm::ctl
