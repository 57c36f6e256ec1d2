// Runs every row of tests/trust/scenarios.md through the real adapters and the shipped
// policy's rules. The table is the spec a reviewer reads; this file only turns rows into the
// metadata a runner would hand jobcell.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/unit/fact_helpers.hpp"
#include "launcher/metadata.hpp"
#include "launcher/policy.hpp"
#include "launcher/rules.hpp"

using namespace jobcell;
using namespace jobcell::testing;
using nlohmann::json;

namespace {

struct Table {
    std::vector<std::string> header;
    std::vector<std::map<std::string, std::string>> rows;
};

std::string trim(std::string s) {
    const auto b = s.find_first_not_of(" `");
    const auto e = s.find_last_not_of(" `");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> cells(const std::string& line) {
    std::vector<std::string> out;
    std::stringstream in(line.substr(1));
    for (std::string cell; std::getline(in, cell, '|');) out.push_back(trim(cell));
    return out;
}

// The Markdown table that follows the heading `## <section>`.
Table read_table(const std::string& section) {
    std::ifstream file(std::string(JOBCELL_SOURCE_DIR) + "/tests/trust/scenarios.md");
    REQUIRE(file.good());
    Table table;
    bool in_section = false;
    for (std::string line; std::getline(file, line);) {
        if (line.rfind("## ", 0) == 0) in_section = line.find(section) != std::string::npos;
        if (!in_section || line.empty() || line[0] != '|') continue;
        auto row = cells(line);
        if (table.header.empty()) { table.header = row; continue; }
        if (row[0].rfind("---", 0) == 0) continue;
        REQUIRE(row.size() == table.header.size());
        std::map<std::string, std::string> named;
        for (std::size_t i = 0; i < row.size(); ++i) named[table.header[i]] = row[i];
        table.rows.push_back(named);
    }
    REQUIRE(!table.rows.empty());
    return table;
}

std::vector<std::pair<std::string, std::string>> assignments(const std::string& text) {
    std::vector<std::pair<std::string, std::string>> out;
    std::stringstream in(text);
    for (std::string word; in >> word;) {
        auto eq = word.find('=');
        REQUIRE(eq != std::string::npos);
        out.emplace_back(word.substr(0, eq), word.substr(eq + 1));
    }
    return out;
}

std::string decide_tier(const EnvList& env, const FileReader& read) {
    static const Policy policy = parse_policy(builtin_policy_text(), "<built-in policy>");
    Facts facts = read_facts(MetaRequest{}, env, read);
    return decide(policy.rules, policy.fallback_tier, facts).tier;
}

json gitlab_refspecs(const std::string& kind, const std::string& ref) {
    json specs = json::array({"+refs/pipelines/5001:refs/pipelines/5001"});
    if (kind == "heads") specs.push_back("+refs/heads/" + ref + ":refs/remotes/origin/" + ref);
    else if (kind == "tags") specs.push_back("+refs/tags/" + ref + ":refs/tags/" + ref);
    else if (kind.rfind("mr:", 0) == 0)
        specs.push_back("+refs/merge-requests/" + kind.substr(3) + "/head:refs/remotes/origin/" + ref);
    else REQUIRE(kind == "pipeline");
    return specs;
}

}  // namespace

TEST_CASE("scenario table: GitLab", "[scenarios]") {
    for (const auto& row : read_table("GitLab").rows) {
        SECTION(row.at("scenario")) {
            EnvList env = {{"CUSTOM_ENV_GITLAB_CI", "true"}, {"CUSTOM_ENV_CI", "true"},
                           {"CUSTOM_ENV_CI_PIPELINE_SOURCE", row.at("pipeline source")}};
            for (const auto& [k, v] : assignments(row.at("other job-set variables"))) env.emplace_back("CUSTOM_ENV_" + k, v);
            std::map<std::string, std::string> files;
            if (row.at("ref") != "none") {
                json git = {{"ref", row.at("ref")}, {"ref_type", row.at("ref_type")},
                            {"refspecs", gitlab_refspecs(row.at("refspecs"), row.at("ref"))}};
                const std::string& p = row.at("protected");
                if (p == "true" || p == "false") git["protected"] = p == "true";
                else if (p != "absent") git["protected"] = json::parse(p);  // a wrong type, on purpose
                json response = {{"id", 1}, {"job_info", {{"project_id", 4711}}}, {"git_info", git},
                                 {"variables", json::array({{{"key", "CI_PIPELINE_SOURCE"}, {"value", row.at("pipeline source")}}})}};
                files["/runner/response.json"] = response.dump();
                env.emplace_back("JOB_RESPONSE_FILE", "/runner/response.json");
            }
            INFO(row.at("why"));
            CHECK(decide_tier(env, fake_reader(files)) == row.at("tier"));
        }
    }
}

TEST_CASE("scenario table: GitHub", "[scenarios]") {
    for (const auto& row : read_table("GitHub").rows) {
        SECTION(row.at("scenario")) {
            const std::string event = row.at("event");
            EnvList env = {{"GITHUB_ACTIONS", "true"}, {"GITHUB_EVENT_NAME", event},
                           {"GITHUB_EVENT_PATH", "/runner/event.json"}, {"GITHUB_REPOSITORY", "acme/widget"},
                           {"GITHUB_REF", row.at("GITHUB_REF")}, {"GITHUB_REF_PROTECTED", row.at("protected")}};
            json payload = {{"repository", {{"full_name", "acme/widget"}, {"fork", false}}}};
            const std::string head = row.at("head repo");
            json head_repo = head == "-" ? json(nullptr) : json{{"full_name", head}};
            if (head != "-" && !row.at("head fork").empty()) head_repo["fork"] = row.at("head fork") == "true";
            if (event.rfind("pull_request", 0) == 0) {
                payload["pull_request"] = {{"number", 1}, {"author_association", row.at("author")},
                                           {"head", {{"ref", "x"}, {"repo", head_repo}}},
                                           {"base", {{"ref", "main"}, {"repo", {{"full_name", row.at("base repo")}}}}}};
            } else if (event == "workflow_run") {
                payload["workflow_run"] = {{"event", "pull_request"}, {"head_repository", head_repo}};
            }
            INFO(row.at("why"));
            CHECK(decide_tier(env, fake_reader({{"/runner/event.json", payload.dump()}})) == row.at("tier"));
        }
    }
}
