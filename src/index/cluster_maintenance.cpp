#include "index/cluster_maintenance.h"

#include <algorithm>
#include <cmath>
#include <queue>
#include <random>
#include <string>
#include <utility>

#include "index/kernels.h"

namespace gannet::index {
namespace {

// Rows per NearestCentroidsOfRows call when placing new rows.
constexpr size_t kPlaceBlock = 8;

// The clustering being maintained: centroids (slots may die), each row's cluster and each
// cluster's rows.
class Lists {
 public:
  Lists(const VectorRows& data, const std::vector<uint32_t>& ids, bool normalize,
        const std::vector<float>& centroids, const std::vector<uint32_t>& prior)
      : data_(data),
        ids_(ids),
        normalize_(normalize),
        dims_(data.dims),
        centroids_(centroids),
        alive_(centroids.size() / data.dims, true),
        assign_(prior),
        members_(centroids.size() / data.dims) {}

  size_t slots() const { return alive_.size(); }
  bool alive(uint32_t j) const { return alive_[j]; }
  size_t size(uint32_t j) const { return members_[j].size(); }
  const float* centroid(uint32_t j) const { return centroids_.data() + size_t{j} * dims_; }
  void Vector(uint32_t i, float* out) const {
    CopyMaybeNormalized(data_.row(ids_[i]), dims_, normalize_, out);
  }

  // Rows with no prior cluster join their nearest centroid; then every cluster lists its rows.
  void PlaceNewRows(int threads, MaintenanceStats& stats) {
    std::vector<uint32_t> fresh;
    for (uint32_t i = 0; i < assign_.size(); ++i) {
      if (assign_[i] == kNoCluster) fresh.push_back(i);
    }
    stats.placed = fresh.size();
    stats.kept = assign_.size() - fresh.size();
    const size_t m = slots();
    std::vector<float> norms(m);
    for (uint32_t j = 0; j < m; ++j) norms[j] = Dot(centroid(j), centroid(j), dims_);
    ParallelFor(fresh.size(), threads, [&](size_t b, size_t e) {
      std::vector<float> scratch, xs(kPlaceBlock * dims_), dist(kPlaceBlock);
      std::vector<uint32_t> best(kPlaceBlock);
      for (size_t i = b; i < e; i += kPlaceBlock) {
        const size_t nx = std::min(kPlaceBlock, e - i);
        for (size_t r = 0; r < nx; ++r) Vector(fresh[i + r], xs.data() + r * dims_);
        NearestCentroidsOfRows(xs.data(), nx, centroids_.data(), norms.data(), m, dims_, 1, scratch,
                               best.data(), dist.data());
        for (size_t r = 0; r < nx; ++r) assign_[fresh[i + r]] = best[r];
      }
    });
    for (uint32_t i = 0; i < assign_.size(); ++i) members_[assign_[i]].push_back(i);
  }

  // The `count` live clusters whose centroids are nearest to c, nearest first, without
  // `exclude`.
  std::vector<uint32_t> Nearest(const float* c, uint32_t exclude, size_t count) const {
    std::vector<std::pair<float, uint32_t>> d;
    for (uint32_t j = 0; j < slots(); ++j) {
      if (alive_[j] && j != exclude) d.emplace_back(L2Squared(c, centroid(j), dims_), j);
    }
    count = std::min(count, d.size());
    std::partial_sort(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(count), d.end());
    std::vector<uint32_t> out(count);
    for (size_t t = 0; t < count; ++t) out[t] = d[t].second;
    return out;
  }

  // Dissolves cluster j: its rows join the nearest of `neighbors` (not empty).
  void Merge(uint32_t j, const std::vector<uint32_t>& neighbors, MaintenanceStats& stats) {
    std::vector<float> x(dims_);
    for (uint32_t i : members_[j]) {
      Vector(i, x.data());
      Move(i, NearestOf(x.data(), neighbors));
      ++stats.reassigned;
    }
    std::vector<uint32_t>().swap(members_[j]);
    alive_[j] = false;
    ++stats.merges;
  }

  // Splits cluster j by 2-means over its rows; false when they cannot be told apart.
  // Then reassigns: j's rows join the nearest of the two halves (j and a new slot) and
  // the neighbours of j's old centroid; a neighbour's row moves to a half nearer to it
  // than its own centroid. *changed gets the clusters whose rows changed.
  bool Split(uint32_t j, size_t neighbor_count, int iterations, std::mt19937_64& rng,
             MaintenanceStats& stats, std::vector<uint32_t>* changed) {
    const std::vector<uint32_t> rows = members_[j];
    const size_t r = rows.size();
    std::vector<float> xs(r * dims_);
    for (size_t t = 0; t < r; ++t) Vector(rows[t], xs.data() + t * dims_);
    const auto x = [&](size_t t) { return xs.data() + t * dims_; };
    const auto farthest = [&](const float* from) {
      size_t far = 0;
      float far_d = -1;
      for (size_t t = 0; t < r; ++t) {
        const float d = L2Squared(x(t), from, dims_);
        if (d > far_d) far_d = d, far = t;
      }
      return far;
    };
    // Seeds: a random row's farthest row, and that one's farthest.
    const size_t b0 = farthest(x(std::uniform_int_distribution<size_t>(0, r - 1)(rng)));
    const size_t a0 = farthest(x(b0));
    std::vector<float> ca(x(a0), x(a0) + dims_), cb(x(b0), x(b0) + dims_);
    std::vector<double> sa(dims_), sb(dims_);
    for (int it = 0; it < iterations; ++it) {
      std::fill(sa.begin(), sa.end(), 0.0);
      std::fill(sb.begin(), sb.end(), 0.0);
      size_t na = 0, nb = 0;
      for (size_t t = 0; t < r; ++t) {
        const bool to_b = L2Squared(x(t), cb.data(), dims_) < L2Squared(x(t), ca.data(), dims_);
        double* acc = to_b ? sb.data() : sa.data();
        for (uint32_t d = 0; d < dims_; ++d) acc[d] += x(t)[d];
        ++(to_b ? nb : na);
      }
      if (na == 0 || nb == 0) return false;  // identical rows
      for (uint32_t d = 0; d < dims_; ++d) {
        ca[d] = static_cast<float>(sa[d] / static_cast<double>(na));
        cb[d] = static_cast<float>(sb[d] / static_cast<double>(nb));
      }
    }
    const std::vector<uint32_t> near = Nearest(centroid(j), j, neighbor_count);
    const auto half = static_cast<uint32_t>(slots());
    std::copy(ca.begin(), ca.end(), centroids_.begin() + static_cast<std::ptrdiff_t>(j) * dims_);
    centroids_.insert(centroids_.end(), cb.begin(), cb.end());
    alive_.push_back(true);
    members_.emplace_back();
    ++stats.splits;

    // LIRE's first condition: the split list's rows go to their nearest centroid among the
    // halves and the neighbours (they may be nearer another list than either half).
    std::vector<uint32_t> candidates = near;
    candidates.push_back(j);
    candidates.push_back(half);
    members_[j].clear();
    for (size_t t = 0; t < r; ++t) {
      const uint32_t to = NearestOf(x(t), candidates);
      Move(rows[t], to);
      stats.reassigned += to != j && to != half;
    }
    // The second: a neighbour's row moves to a half nearer to it than its own centroid.
    std::vector<float> v(dims_);
    for (uint32_t nb : near) {
      std::vector<uint32_t> stay;
      for (uint32_t i : members_[nb]) {
        Vector(i, v.data());
        const float own = L2Squared(v.data(), centroid(nb), dims_);
        const float da = L2Squared(v.data(), centroid(j), dims_);
        const float db = L2Squared(v.data(), centroid(half), dims_);
        if (std::min(da, db) < own) {
          Move(i, db < da ? half : j);
          ++stats.reassigned;
        } else {
          stay.push_back(i);
        }
      }
      members_[nb] = std::move(stay);
    }
    *changed = near;
    changed->push_back(j);
    changed->push_back(half);
    return true;
  }

  // Local Lloyd passes: each centroid becomes the mean of its rows, then every row moves
  // to the nearest of its list's centroid and the `neighbor_count` centroids nearest to
  // that one. Returns the rows moved.
  size_t Refine(size_t neighbor_count, int threads) {
    Recenter(threads);
    const std::vector<uint32_t> live = Holding();
    std::vector<std::vector<uint32_t>> near(slots());
    ParallelFor(live.size(), threads, [&](size_t b, size_t e) {
      for (size_t t = b; t < e; ++t) {
        const uint32_t j = live[t];
        near[j] = Nearest(centroid(j), j, neighbor_count);
        near[j].push_back(j);
      }
    });
    std::vector<uint32_t> next(assign_);
    ParallelFor(assign_.size(), threads, [&](size_t b, size_t e) {
      std::vector<float> x(dims_);
      for (size_t i = b; i < e; ++i) {
        Vector(static_cast<uint32_t>(i), x.data());
        next[i] = NearestOf(x.data(), near[assign_[i]]);
      }
    });
    size_t moved = 0;
    for (size_t i = 0; i < assign_.size(); ++i) moved += next[i] != assign_[i];
    assign_ = std::move(next);
    for (auto& m : members_) m.clear();
    for (uint32_t i = 0; i < assign_.size(); ++i) members_[assign_[i]].push_back(i);
    return moved;
  }

  // Each live cluster's centroid := the mean of its rows.
  void Recenter(int threads) {
    ParallelFor(slots(), threads, [&](size_t b, size_t e) {
      std::vector<double> sum(dims_);
      std::vector<float> x(dims_);
      for (size_t j = b; j < e; ++j) {
        const std::vector<uint32_t>& rows = members_[j];
        if (!alive_[j] || rows.empty()) continue;
        std::fill(sum.begin(), sum.end(), 0.0);
        for (uint32_t i : rows) {
          Vector(i, x.data());
          for (uint32_t d = 0; d < dims_; ++d) sum[d] += x[d];
        }
        float* c = centroids_.data() + j * dims_;
        for (uint32_t d = 0; d < dims_; ++d) {
          c[d] = static_cast<float>(sum[d] / static_cast<double>(rows.size()));
        }
      }
    });
  }

  // The live, non-empty clusters renumbered densely, each centroid the mean of its rows.
  Clustering Finish(int threads) {
    Recenter(threads);
    const std::vector<uint32_t> kept = Holding();
    std::vector<uint32_t> slot_of(slots(), kNoCluster);
    for (size_t k = 0; k < kept.size(); ++k) slot_of[kept[k]] = static_cast<uint32_t>(k);
    Clustering out;
    out.dims = dims_;
    out.clusters = kept.size();
    out.centroids.resize(kept.size() * dims_);
    for (size_t k = 0; k < kept.size(); ++k) {
      std::copy_n(centroid(kept[k]), dims_, out.centroids.data() + k * dims_);
    }
    out.assignment.resize(assign_.size());
    for (size_t i = 0; i < assign_.size(); ++i) out.assignment[i] = slot_of[assign_[i]];
    return out;
  }

 private:
  // The live clusters that hold rows, ascending.
  std::vector<uint32_t> Holding() const {
    std::vector<uint32_t> out;
    for (uint32_t j = 0; j < slots(); ++j) {
      if (alive_[j] && !members_[j].empty()) out.push_back(j);
    }
    return out;
  }
  uint32_t NearestOf(const float* x, const std::vector<uint32_t>& clusters) const {
    uint32_t best = clusters.front();
    float best_d = L2Squared(x, centroid(best), dims_);
    for (size_t t = 1; t < clusters.size(); ++t) {
      const float d = L2Squared(x, centroid(clusters[t]), dims_);
      if (d < best_d) best_d = d, best = clusters[t];
    }
    return best;
  }
  void Move(uint32_t i, uint32_t to) {
    assign_[i] = to;
    members_[to].push_back(i);
  }

  const VectorRows& data_;
  const std::vector<uint32_t>& ids_;
  const bool normalize_;
  const uint32_t dims_;
  std::vector<float> centroids_;
  std::vector<bool> alive_;
  std::vector<uint32_t> assign_;
  std::vector<std::vector<uint32_t>> members_;
};

}  // namespace

Result<Clustering> MaintainClusters(const VectorRows& data, const std::vector<uint32_t>& ids,
                                    bool normalize, const std::vector<float>& centroids,
                                    const std::vector<uint32_t>& prior,
                                    const MaintenanceOptions& opt, MaintenanceStats* stats) {
  const uint32_t dims = data.dims;
  if (dims == 0) return Status::InvalidArgument("cluster maintenance: vectors have no dimensions");
  if (centroids.empty() || centroids.size() % dims != 0) {
    return Status::InvalidArgument("cluster maintenance: centroids are not whole vectors of " +
                                   std::to_string(dims) + " dimensions");
  }
  if (ids.empty() || prior.size() != ids.size()) {
    return Status::InvalidArgument("cluster maintenance: " + std::to_string(prior.size()) +
                                   " prior clusters for " + std::to_string(ids.size()) + " rows");
  }
  if (opt.target_clusters == 0 || !(opt.split_factor > 1) ||
      !(opt.merge_factor >= 0 && opt.merge_factor < 1) || opt.neighbors == 0 ||
      opt.split_iterations < 1) {
    return Status::InvalidArgument(
        "cluster maintenance: target_clusters, neighbors and split_iterations must be >= 1, "
        "split_factor > 1 and merge_factor in [0, 1)");
  }
  const size_t m = centroids.size() / dims;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] >= data.rows) {
      return Status::InvalidArgument("cluster maintenance: row id out of range");
    }
    if (prior[i] != kNoCluster && prior[i] >= m) {
      return Status::InvalidArgument("cluster maintenance: prior cluster out of range");
    }
  }
  MaintenanceStats local;
  MaintenanceStats& st = stats != nullptr ? *stats : local;
  st = MaintenanceStats{};
  std::mt19937_64 rng(opt.seed);
  Lists lists(data, ids, normalize, centroids, prior);
  lists.PlaceNewRows(opt.threads, st);

  const double mean = static_cast<double>(ids.size()) / static_cast<double>(opt.target_clusters);
  const double merge_below = opt.merge_factor * mean, split_above = opt.split_factor * mean;
  // Merges, smallest list first (a list that grew by taking a merged one's rows stays).
  std::vector<uint32_t> small;
  size_t live = lists.slots();
  for (uint32_t j = 0; j < lists.slots(); ++j) {
    if (static_cast<double>(lists.size(j)) < merge_below) small.push_back(j);
  }
  std::stable_sort(small.begin(), small.end(),
                   [&](uint32_t a, uint32_t b) { return lists.size(a) < lists.size(b); });
  for (uint32_t j : small) {
    if (live <= 1) break;
    if (static_cast<double>(lists.size(j)) >= merge_below) continue;
    lists.Merge(j, lists.Nearest(lists.centroid(j), j, opt.neighbors), st);
    --live;
  }
  // Splits, largest list first: of every list over split_factor × the mean, and, while
  // there are fewer lists than the target, of the largest over the mean (a clustering
  // that grew gets the list count a build from scratch would pick). Halves and
  // neighbours go back on the heap; entries go stale as lists change, so each is checked
  // against its list's size when it comes up.
  std::priority_queue<std::pair<size_t, uint32_t>> heap;
  for (uint32_t j = 0; j < lists.slots(); ++j) {
    if (lists.alive(j)) heap.emplace(lists.size(j), j);
  }
  std::vector<uint32_t> changed;
  while (!heap.empty() && lists.slots() < ids.size()) {
    const auto [size, j] = heap.top();
    heap.pop();
    if (!lists.alive(j)) continue;
    if (size != lists.size(j)) {
      heap.emplace(lists.size(j), j);
      continue;
    }
    const double s = static_cast<double>(size);
    if (!(s > split_above || (opt.fill_to_target && live < opt.target_clusters && s > mean))) {
      break;  // the largest list needs no split, so none does
    }
    if (!lists.Split(j, opt.neighbors, opt.split_iterations, rng, st, &changed)) continue;
    ++live;
    for (uint32_t c : changed) heap.emplace(lists.size(c), c);
  }
  const size_t settled = static_cast<size_t>(opt.converged_share * static_cast<double>(ids.size()));
  for (int pass = 0; pass < opt.refine_passes; ++pass) {
    const size_t moved = lists.Refine(opt.refine_neighbors, opt.threads);
    st.refined += moved;
    ++st.refine_passes;
    if (moved <= settled) break;
  }
  return lists.Finish(opt.threads);
}

}  // namespace gannet::index
