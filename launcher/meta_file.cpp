// --meta file:PATH: facts the operator's own tooling wrote (Buildkite, Jenkins, Woodpecker, ...).
// Schema and examples: docs/metadata-file.md.
//
// The file is configuration, not job output: every value in it is trusted (operator_file), so
// it must be exactly right. Anything else - unreadable, not JSON, an unknown field, a wrong
// type - is an Error (exit 125), never a silently missing fact. Whoever writes the file must
// derive it from sources the job cannot influence; jobcell cannot check that.
#include <nlohmann/json.hpp>

#include "launcher/metadata.hpp"
#include "sandbox/error.hpp"

namespace jobcell {

using nlohmann::json;

namespace {

std::string expected_fields() {
    std::string list;
    for (const auto& name : kFactNames) list += (list.empty() ? "" : ", ") + name;
    return list;
}

}  // namespace

void read_file_facts(Facts& facts, const std::string& path, const FileReader& read) {
    facts.adapter = "file";
    std::string error;
    const std::optional<std::string> text = read(path, error);
    if (!text) throw Error(path + ": " + error);
    json document;
    if (!meta_detail::parse_json(*text, document, error)) throw Error(path + ": invalid JSON: " + error);
    if (!document.is_object()) throw Error(path + ": expected a JSON object");

    const std::string origin_prefix = "file:" + path + " ";
    // Validate the whole file before recording anything: a bad file yields no facts at all.
    std::vector<std::pair<std::string, FactValue>> values;
    for (const auto& [field, value] : document.items()) {
        if (!is_fact_name(field)) {
            throw Error(path + ": " + field + ": unknown field (expected one of " + expected_fields() + ")");
        }
        if (is_bool_fact(field)) {
            if (!value.is_boolean()) throw Error(path + ": " + field + ": expected a boolean");
            values.emplace_back(field, value.get<bool>());
            continue;
        }
        if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
            throw Error(path + ": " + field + ": expected a non-empty string");
        }
        const auto& text_value = value.get_ref<const std::string&>();
        if (text_value.size() > kMaxFactText) {
            throw Error(path + ": " + field + ": longer than " + std::to_string(kMaxFactText) + " bytes");
        }
        if (field == "ref_type" && text_value != "branch" && text_value != "tag") {
            throw Error(path + ": ref_type: expected branch or tag");
        }
        values.emplace_back(field, text_value);
    }
    bool has_ci = false;
    for (auto& [field, value] : values) {
        has_ci = has_ci || field == "ci";
        facts.set_trusted(field, std::move(value), FactSource::operator_file, origin_prefix + field);
    }
    if (!has_ci) {
        facts.set_trusted("ci", std::string("generic"), FactSource::operator_file, origin_prefix + "(default)");
    }
}

}  // namespace jobcell
