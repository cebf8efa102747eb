#!/usr/bin/env python3
"""Writes the logistic-regression fixture of the ModelRuntime contract suite
(test/fixtures/logistic/{binary,multiclass}/model.json and <dir>.reference.json).

The model files are in the built-in trainer's format (aegis.logreg/v1); the reference
predictions are computed here, in Python's float arithmetic, from the closed form —
standardise, z = W·x + b, sigmoid (2 classes) or softmax — never by the TypeScript under test.
Deterministic: the same bytes on every run. Plain Python 3, no packages.

    python3 scripts/make-logistic-fixture.py
"""
import json
import math
import os
import random

ROOT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'logistic')


def proba(model, row):
    x = [(v - m) / s for v, m, s in zip(row, model['standardisation']['mean'], model['standardisation']['std'])]
    z = [b + sum(w * v for w, v in zip(ws, x)) for ws, b in zip(model['weights'], model['bias'])]
    if len(model['classes']) == 2:
        p = 1 / (1 + math.exp(-z[0]))
        return [1 - p, p]
    top = max(z)
    e = [math.exp(v - top) for v in z]
    return [v / sum(e) for v in e]


def write(name, model, rows):
    folder = os.path.join(ROOT, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'model.json'), 'w') as f:
        json.dump(model, f, sort_keys=True, separators=(',', ':'))
        f.write('\n')
    predictions = []
    for row in rows:
        p = proba(model, row)
        best = max(range(len(p)), key=lambda k: (p[k], -k))  # ties: the lower class index, as the trainer
        predictions.append({'label': model['classes'][best], 'probabilities': dict(zip(model['classes'], p))})
    reference = {
        'note': f'{name}: predictions from the closed form in Python (float64)',
        'generator': 'scripts/make-logistic-fixture.py',
        'tolerance': 1e-9,
        'rows': rows,
        'predictions': predictions,
    }
    with open(os.path.join(ROOT, f'{name}.reference.json'), 'w') as f:
        json.dump(reference, f, indent=1)
        f.write('\n')


rng = random.Random(20261130)
binary = {
    'format': 'aegis.logreg/v1',
    'activation': 'sigmoid',
    'classes': ['stay', 'churn'],
    'features': ['tenure', 'monthly_spend', 'support_calls'],
    'standardisation': {'mean': [24.5, 70.25, 2.0], 'std': [12.0, 30.5, 1.5]},
    'weights': [[-1.25, 0.8, 1.1]],
    'bias': [-0.3],
}
multiclass = {
    'format': 'aegis.logreg/v1',
    'activation': 'softmax',
    'classes': ['bronze', 'silver', 'gold'],
    'features': ['visits', 'basket', 'tenure', 'returns'],
    'standardisation': {'mean': [5.0, 40.0, 3.0, 0.5], 'std': [2.5, 15.0, 2.0, 0.75]},
    'weights': [[-0.9, -1.1, -0.2, 0.4], [0.1, 0.2, 0.05, -0.1], [0.8, 0.9, 0.15, -0.3]],
    'bias': [0.2, 0.1, -0.3],
}
write('binary', binary, [[round(rng.uniform(0, 60), 3), round(rng.uniform(10, 140), 3), rng.randint(0, 6)] for _ in range(8)])
write('multiclass', multiclass, [[rng.randint(0, 12), round(rng.uniform(5, 90), 3), round(rng.uniform(0, 8), 3), rng.randint(0, 2)] for _ in range(8)])
