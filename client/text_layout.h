// Plain-text layouts for people: aligned "key: value" lines and aligned tables.
#ifndef PVMD_CLIENT_TEXT_LAYOUT_H_
#define PVMD_CLIENT_TEXT_LAYOUT_H_

#include <string>
#include <utility>
#include <vector>

namespace pvm::ctl {

using KeyValueRows = std::vector<std::pair<std::string, std::string>>;

// One "key: value" line per row, values starting in the same column.
std::string KeyValueLines(const KeyValueRows& rows);

// Rows of cells (the first row is usually the header), each column as wide as its
// widest cell, two spaces between columns, no trailing spaces.
std::string AlignedTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace pvm::ctl

#endif  // PVMD_CLIENT_TEXT_LAYOUT_H_
