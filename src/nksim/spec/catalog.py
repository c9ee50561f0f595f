"""Shared name registries: antigens, indications and response criteria.

Used by spec, kinetics, spatial and clinical alike, so a name means the same thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

RESPONSE_CRITERIA = {
    "RECIST1.1": "RECIST 1.1 (Eisenhauer 2009): sum of longest diameters of up to 5 target lesions",
    "mRECIST": "modified RECIST for HCC (Lencioni & Llovet 2010): viable (enhancing) tumor only",
    "Lugano2014": "Lugano 2014 CT-based criteria for lymphoma (Cheson 2014): sum of product of diameters",
    "ALL-marrow": "acute lymphoblastic leukemia marrow response: CR at < 5% marrow blasts, relapse / PD (NCCN-style)",
}


@dataclass(frozen=True)
class Antigen:
    name: str
    kind: str  # "tumor-associated", "lineage", "stress-ligand", "checkpoint"
    normal_tissue_expression: float  # relative on-target/off-tumor exposure, 0 = none (assumption unless noted)
    note: str
    # expressed on a normal circulating lineage (normal B cells for CD19/CD20): a CAR against it meets antigen in
    # blood, marrow and lymphoid organs without entering a lesion (the systemic antigen compartment, docs/model.md)
    normal_circulating: bool = False


ANTIGENS: dict[str, Antigen] = {
    a.name: a
    for a in [
        Antigen("GPC3", "tumor-associated", 0.0, "oncofetal; HCC (Kaseb 2016); essentially absent in adult normal liver"),
        Antigen("CD147", "tumor-associated", 0.3, "basigin; also on normal epithelia/hepatocytes (Tseng 2020): off-tumor risk"),
        Antigen("CD19", "lineage", 0.05, "B-cell lineage; normal B cells are targets (B-cell aplasia, not organ damage)",
                True),
        Antigen("CD20", "lineage", 0.05, "B-cell lineage; antibody (rituximab) target for ADCC", True),
        Antigen("MUC1", "tumor-associated", 0.1, "epithelial mucin; NCT02839954"),
        Antigen("NKG2DL", "stress-ligand", 0.02, "NKG2D ligands (MICA/B, ULBPs); an NKG2D CAR targets the patient's ligand level"),
        Antigen("CLDN18.2", "tumor-associated", 0.1, "gastric/pancreatic; normal gastric mucosa"),
        Antigen("HER2", "tumor-associated", 0.1, "solid tumors; low normal epithelial expression"),
        Antigen("B7H3", "tumor-associated", 0.05, "Chaudhry 2022 (B7H3 CAR-NK with DNR)"),
        Antigen("CD30", "tumor-associated", 0.02, "Hodgkin Reed-Sternberg cells and CD30+ lymphomas; engager AFM13 "
                "(CD30xCD16A, Rothe 2015; Nieto 2025); low on activated lymphocytes (assumption)"),
        Antigen("CD33", "lineage", 0.1, "myeloid lineage (AML/MDS blasts); TriKE GTB-3550 (CD16xIL-15xCD33, Vallera "
                "2016); normal myeloid progenitors carry it (off-tumor exposure weight: assumption)"),
    ]
}


@dataclass(frozen=True)
class Indication:
    name: str
    criteria: str  # key of RESPONSE_CRITERIA
    organ: str  # where target lesions sit ("liver", "lymph node", ...)
    chemokines: tuple[str, ...]  # chemokines the tumor secretes (matched by an armoring receptor)
    note: str
    # marrow / blood disease: the tumor is (also) a systemic pool that CAR cells meet without trafficking
    # (docs/model.md process 15); its lesions are then at most extramedullary sites
    systemic: bool = False


INDICATIONS: dict[str, Indication] = {
    i.name: i
    for i in [
        Indication("HCC", "mRECIST", "liver", ("CXCL8", "CXCL1", "CXCL12"), "hepatocellular carcinoma"),
        Indication("HCC-post-LT", "mRECIST", "liver", ("CXCL8", "CXCL1", "CXCL12"),
                   "recurrent HCC after liver transplantation (post-transplant immunosuppression)"),
        Indication("B-NHL", "Lugano2014", "lymph node", ("CXCL12", "CXCL13"), "B-cell non-Hodgkin lymphoma"),
        Indication("B-ALL", "ALL-marrow", "bone marrow", ("CXCL12",),
                   "B-cell acute lymphoblastic leukemia: marrow / blood disease as a systemic tumor; response is read "
                   "from the marrow blast share (ALL-marrow criteria), not from lesions", True),
        Indication("CLL", "Lugano2014", "lymph node", ("CXCL12", "CXCL13"), "chronic lymphocytic leukemia (nodal disease)"),
        Indication("HL", "Lugano2014", "lymph node", ("CCL17", "CCL22"),
                   "Hodgkin lymphoma and other CD30+ lymphomas (nodal disease)"),
        Indication("GC", "RECIST1.1", "stomach", ("CXCL8", "CXCL1"), "gastric cancer"),
        Indication("CRC", "RECIST1.1", "colon", ("CXCL8", "CXCL1"), "colorectal cancer"),
        Indication("PDAC", "RECIST1.1", "pancreas", ("CXCL8", "CXCL12"), "pancreatic adenocarcinoma"),
    ]
}

# Chemokine receptors an armored product may carry, and the chemokines each one follows.
CHEMOKINE_RECEPTORS: dict[str, tuple[str, ...]] = {
    "CXCR1": ("CXCL8",),
    "CXCR2": ("CXCL1", "CXCL8"),
    "CXCR4": ("CXCL12",),
    "CXCR5": ("CXCL13",),
    "CCR7": ("CCL19", "CCL21"),
}
