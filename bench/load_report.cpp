// The JSON summary and the report directory of `annals bench load`: plots
// are drawn by gnuplot (SVG) from CSV files the report keeps beside them.
#include "bench/load.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <algorithm>
#include <tuple>
#include <set>
#include <sstream>

namespace annals::bench {

namespace {

nlohmann::json latency_json(const latency_summary& l) {
  return {{"count", l.count}, {"p50", l.p50}, {"p99", l.p99}, {"max", l.max}};
}

/// Twelve colours told apart easily (Paul Tol's "muted" and "bright").
const char* series_colour(std::size_t i) {
  static const char* colours[] = {"#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77",
                                  "#CC6677", "#882255", "#AA4499", "#4477AA", "#EE6677", "#228833"};
  return colours[i % (sizeof colours / sizeof colours[0])];
}

/// Members beyond this are drawn as one band (min to max, and the median).
constexpr std::size_t max_member_lines = 10;

/// "12.3" below 100, "1234" above: figures for people.
std::string rounded(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 100 ? "%.1f" : "%.0f", v);
  return buf;
}

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

} // namespace

std::string load_json(const load_options& options, const load_result& r) {
  nlohmann::json j;
  j["posted"] = r.posted;
  j["stored"] = r.stored;
  j["archived"] = r.archived;
  j["lost"] = r.lost;
  j["lost_messages"] = r.lost_messages;
  j["duplicated"] = r.duplicated;
  j["converged"] = r.converged;
  j["converged_s"] = r.converged_s;
  j["latency_ms"] = latency_json(r.latency.imported);
  j["stages_ms"] = {{"post_to_stored", latency_json(r.latency.stored)},
                    {"post_to_archived", latency_json(r.latency.archived)},
                    {"post_to_imported", latency_json(r.latency.imported)}};
  j["peak_rss_mb"] = r.peak_rss_anon_mb;
  j["peak_rss_file_mb"] = r.peak_rss_file_mb;
  j["idle_rss_mb"] = r.idle_rss_anon_mb;
  j["nodes"] = r.nodes;
  j["peak_rss_per_node_mb"] = r.nodes ? r.peak_rss_anon_mb / static_cast<double>(r.nodes) : 0;
  j["idle_rss_per_node_mb"] = r.nodes ? r.idle_rss_anon_mb / static_cast<double>(r.nodes) : 0;
  j["builds"] = r.latency.builds;
  j["build_seconds"] = r.latency.build_seconds;
  j["build_rate_msg_s"] =
    r.latency.build_seconds > 0 ? static_cast<double>(r.latency.archived_messages) / r.latency.build_seconds : 0;
  auto import_span = (r.latency.last_import_ms - r.latency.first_import_ms) / 1000.0;
  j["import_rate_msg_s"] =
    import_span > 0 ? static_cast<double>(r.latency.imported_messages) / import_span : 0;
  j["posting_s"] = r.posting_s;
  j["scheduler_lateness_ms"] = {
    {"p50", r.lateness_p50_ms}, {"p99", r.lateness_p99_ms}, {"max", r.lateness_max_ms}};
  // What the senders achieved: each message is signed and encrypted as a
  // Status client does, which on a small machine caps the rate asked for.
  j["posted_rate_msg_s"] = r.posting_s > 0 ? static_cast<double>(r.posted) / r.posting_s : 0;
  j["relay"] = r.relay_counters;
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : r.checks)
    checks.push_back({{"node", c.node},
                      {"messages", c.messages},
                      {"missing", c.missing},
                      {"archived", c.archived},
                      {"duplicated", c.duplicated},
                      {"unarchived", c.unarchived}});
  j["checks"] = checks;
  j["options"] = {{"communities", options.communities}, {"members", options.members},
                  {"messages", options.messages},       {"rate", options.rate},
                  {"late_share", options.late_share},   {"late_by", options.late_by},
                  {"relay", options.relay},             {"seconds", options.seconds},
                  {"interval", options.interval}};
  return j.dump();
}

std::string write_load_report(const std::filesystem::path& dir, const load_options& options,
                              const load_result& r) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return dir.string() + ": " + ec.message();
  {
    std::ofstream json(dir / "result.json");
    json << load_json(options, r) << "\n";
  }
  // series.csv: one row per sample and node.
  std::set<std::string> names;
  for (const auto& s : r.samples)
    for (const auto& [name, c] : s.nodes)
      if (name.rfind("owner", 0) == 0 || name.rfind("member", 0) == 0)
        names.insert(name);
  {
    std::ofstream csv(dir / "series.csv");
    csv << "seconds,node,stored,archived,imported,posted,rss_anon_mb,rss_file_mb\n";
    for (const auto& s : r.samples)
      for (const auto& name : names) {
        auto it = s.nodes.find(name);
        node_counts c = it == s.nodes.end() ? node_counts{} : it->second;
        csv << s.seconds << ',' << name << ',' << c.stored << ',' << c.archived << ','
            << c.imported << ',' << s.posted << ',' << s.rss_anon_mb << ',' << s.rss_file_mb
            << "\n";
      }
  }
  // Per node, a block gnuplot can index: seconds, stored, archived, imported.
  {
    std::ofstream dat(dir / "series.dat");
    for (const auto& name : names) {
      dat << "# " << name << "\n";
      for (const auto& s : r.samples) {
        auto it = s.nodes.find(name);
        node_counts c = it == s.nodes.end() ? node_counts{} : it->second;
        dat << s.seconds << ' ' << c.stored << ' ' << c.archived << ' ' << c.imported << "\n";
      }
      dat << "\n\n";
    }
  }
  {
    std::ofstream mem(dir / "memory.csv");
    mem << "seconds,rss_anon_mb,rss_file_mb,posted\n";
    for (const auto& s : r.samples)
      mem << s.seconds << ',' << s.rss_anon_mb << ',' << s.rss_file_mb << ',' << s.posted << "\n";
  }
  {
    std::ofstream lat(dir / "latency.csv");
    lat << "quantile,post_to_imported_ms\n";
    const auto& q = r.latency.imported_quantiles;
    for (std::size_t i = 0; i < q.size(); ++i)
      lat << static_cast<double>(i + 1) / static_cast<double>(q.size()) << ',' << q[i] << "\n";
  }
  // gnuplot: three SVGs.
  std::ostringstream gp;
  gp << "set datafile separator whitespace\n"
        "set terminal svg size 900,500 dynamic background rgb 'white'\n"
        "set key outside right\nset grid\n";
  gp << "set output " << quoted((dir / "messages.svg").string()) << "\n"
     << "set title 'Messages over time: stored and archived by owners, imported by members'\n"
        "set xlabel 'seconds since the first post'\nset ylabel 'messages'\n";
  // Each owner and (up to max_member_lines) each member in its own colour;
  // more members become a band, min to max, with the median.
  std::size_t members = 0;
  for (const auto& name : names)
    members += name.rfind("owner", 0) != 0;
  bool band = members > max_member_lines;
  if (band) {
    std::ofstream dat(dir / "members_band.dat");
    for (const auto& s : r.samples) {
      std::vector<std::uint64_t> imported;
      for (const auto& name : names)
        if (name.rfind("owner", 0) != 0) {
          auto it = s.nodes.find(name);
          imported.push_back(it == s.nodes.end() ? 0 : it->second.imported);
        }
      std::sort(imported.begin(), imported.end());
      dat << s.seconds << ' ' << imported.front() << ' ' << imported[imported.size() / 2] << ' '
          << imported.back() << "\n";
    }
  }
  gp << "plot ";
  std::size_t i = 0, colour = 0;
  bool first = true;
  for (const auto& name : names) {
    bool owner = name.rfind("owner", 0) == 0;
    auto title = [&](const char* what) { return quoted(name + " " + what); };
    if (owner || !band) {
      if (!first)
        gp << ", ";
      first = false;
      auto lc = std::string(" lc rgb '") + series_colour(colour++) + "'";
      if (owner)
        gp << quoted((dir / "series.dat").string()) << " index " << i
           << " using 1:2 with lines lw 3" << lc << " title " << title("stored") << ", "
           << quoted((dir / "series.dat").string()) << " index " << i
           << " using 1:3 with lines lw 3 dt 2" << lc << " title " << title("archived");
      else
        gp << quoted((dir / "series.dat").string()) << " index " << i
           << " using 1:4 with lines lw 1.5" << lc << " title " << title("imported");
    }
    ++i;
  }
  if (band)
    gp << (first ? "" : ", ") << quoted((dir / "members_band.dat").string())
       << " using 1:2:4 with filledcurves fs transparent solid 0.25 lc rgb '#4477AA' title "
       << quoted(std::to_string(members) + " members imported: min to max") << ", "
       << quoted((dir / "members_band.dat").string())
       << " using 1:3 with lines lw 2 lc rgb '#4477AA' title 'median member'";
  gp << "\n";
  gp << "set datafile separator ','\n"
     << "set output " << quoted((dir / "latency.svg").string()) << "\n"
     << "set title 'Post to imported latency, every (member, message) pair: distribution'\n"
        "set xlabel 'latency (ms)'\nset ylabel 'share of messages at or below'\nset key off\n"
        "set yrange [0:1]\n";
  // The p50 and p99 marks, named with their values.
  for (auto [name, value, y] : {std::tuple{"p50", r.latency.imported.p50, 0.45},
                                std::tuple{"p99", r.latency.imported.p99, 0.85}}) {
    if (r.latency.imported.count == 0)
      break;
    gp << "set arrow from " << value << ", graph 0 to " << value
       << ", graph 1 nohead dt 3 lc rgb '#CC6677'\n"
       << "set label " << quoted(std::string(" ") + name + " " + rounded(value) + " ms") << " at "
       << value << ", graph " << y << " left tc rgb '#CC6677'\n";
  }
  gp << "plot " << quoted((dir / "latency.csv").string())
     << " using 2:1 every ::1 with lines lw 2 lc rgb '#332288'\n"
     << "unset arrow\nunset label\n";
  gp << "set output " << quoted((dir / "memory.svg").string()) << "\n"
     << "set title 'Resident memory of the whole process (all nodes)'\n"
        "set xlabel 'seconds since the first post'\nset ylabel 'MiB'\nset key outside right\n"
        "set autoscale y\n"
     << "plot " << quoted((dir / "memory.csv").string())
     << " using 1:2 every ::1 with lines lw 2 title 'anonymous', "
     << quoted((dir / "memory.csv").string())
     << " using 1:3 every ::1 with lines lw 2 dt 2 title 'file-backed (mmap)'\n";
  {
    std::ofstream script(dir / "plots.gnuplot");
    script << gp.str();
  }
  auto command = "gnuplot " + quoted((dir / "plots.gnuplot").string()) + " 2>"
                 + quoted((dir / "gnuplot.log").string());
  std::string plot_error;
  if (std::system(command.c_str()) != 0)
    plot_error = "gnuplot failed (is it installed? scripts/setup.sh installs gnuplot-nox); see "
                 + (dir / "gnuplot.log").string();
  // index.html
  {
    std::ofstream html(dir / "index.html");
    auto per_node = r.nodes ? r.peak_rss_anon_mb / static_cast<double>(r.nodes) : 0;
    html << "<!doctype html><html><head><meta charset='utf-8'><title>annals bench load</title>"
            "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}"
            "td,th{padding:2px 10px;text-align:right}th{text-align:left}</style></head><body>"
         << "<h1>annals bench load</h1><p>" << options.communities << " communities &times; "
         << options.messages << " messages, " << options.members << " members each joining every "
         << "community, " << options.rate << " msg/s, late share " << options.late_share
         << " up to " << options.late_by << " s, relay " << options.relay << ".</p>"
         << "<p><b>" << (r.converged && r.lost == 0 && r.duplicated == 0 ? "PASS" : "FAIL")
         << "</b>: posted " << r.posted << ", stored " << r.stored << ", archived " << r.archived
         << ", lost " << r.lost << ", duplicated " << r.duplicated << ", converged "
         << (r.converged ? "after " + std::to_string(r.converged_s) + " s" : "no") << ".</p>"
         << "<table><tr><th>post &rarr;</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th></tr>";
    auto row = [&](const char* what, const latency_summary& l) {
      html << "<tr><th>" << what << "</th><td>" << rounded(l.p50) << "</td><td>" << rounded(l.p99)
           << "</td><td>" << rounded(l.max) << "</td></tr>";
    };
    row("stored by the owner", r.latency.stored);
    row("in a committed archive", r.latency.archived);
    row("imported by each member", r.latency.imported);
    html << "</table><p>Peak anonymous RSS " << rounded(r.peak_rss_anon_mb) << " MiB for "
         << r.nodes << " nodes (" << rounded(per_node) << " MiB per node); idle after convergence "
         << rounded(r.idle_rss_anon_mb) << " MiB.</p>"
         << "<h2>Messages over time</h2><img src='messages.svg' width='900'>"
         << "<h2>Latency distribution</h2><img src='latency.svg' width='900'>"
         << "<h2>Memory over time</h2><img src='memory.svg' width='900'>"
         << "<p>Data: <a href='result.json'>result.json</a>, <a href='series.csv'>series.csv</a>, "
            "<a href='latency.csv'>latency.csv</a>, <a href='memory.csv'>memory.csv</a>.</p>"
            "</body></html>\n";
  }
  return plot_error;
}

} // namespace annals::bench
